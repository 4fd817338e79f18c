import Foundation
import Testing
@testable import BuildRuntime

/// Variable substitution and word rules, as Docker applies them where it substitutes.
@Suite struct ShellWordsTests {
    let env: [String: String] = ["FOO": "foo", "EMPTY": "", "SPACED": "a b", "DIR": "/srv"]
    var lookup: ShellWords.Lookup { { [env] in env[$0] } }

    @Test func substitution() throws {
        let w = ShellWords()
        #expect(try w.word("$FOO/${FOO}x", lookup) == "foo/foox")
        #expect(try w.word("${UNSET:-def} ${EMPTY:-def} ${EMPTY-def}|", lookup) == "def def |")
        #expect(try w.word("${FOO:+alt} ${UNSET:+alt}|${EMPTY+set}", lookup) == "alt |set")
        #expect(try w.word("${UNSET:-${DIR}/x}", lookup) == "/srv/x")
        #expect(try w.word("$UNSET.$", lookup) == ".$")
        #expect(throws: ShellWords.Failure.self) { try w.word("${UNSET:?must be set}", lookup) }
        #expect(throws: ShellWords.Failure.self) { try w.word("${FOO", lookup) }
        #expect(throws: ShellWords.Failure.self) { try w.word("${FOO/a/b}", lookup) }
    }

    @Test func quotesAndEscapes() throws {
        let w = ShellWords()
        #expect(try w.word(#"'$FOO' "$FOO" \$FOO"#, lookup) == "$FOO foo $FOO")
        #expect(try w.word(#""a \"q\" \$x \n""#, lookup) == #"a "q" $x \n"#)
        #expect(try ShellWords(escape: "`").word("`$FOO C:\\dir", lookup) == "$FOO C:\\dir")
        #expect(throws: ShellWords.Failure.self) { try w.word("'open", lookup) }
        #expect(throws: ShellWords.Failure.self) { try w.word("\"open", lookup) }
    }

    @Test func wordSplitting() throws {
        let w = ShellWords()
        #expect(try w.words("  $SPACED  c ", lookup) == ["a", "b", "c"])
        #expect(try w.words(#""$SPACED" c 'd e' f\ g"#, lookup) == ["a b", "c", "d e", "f g"])
        #expect(try w.words(#""" x"#, lookup) == ["", "x"])
        #expect(w.rawWords(#"a="b c" d='e f' g\ h"#) == [#"a="b c""#, "d='e f'", #"g\ h"#])
    }
}
