import Foundation
import JSONRPC
import SlipwayProtocol

/// kp's output, column for column as the seed (kp "Managing Images and Builds") prints it:
/// tables with left-aligned, space-padded columns, and the `Key: value` blocks.
enum KpFormat {
    /// Columns padded to their widest cell, three spaces apart (kp's tabwriter).
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { c in all.map { $0[c].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { c, cell in c == row.count - 1 ? cell : cell.padding(toLength: widths[c], withPad: " ", startingAt: 0) }
                .joined(separator: "   ").trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n") + "\n"
    }

    /// READY as kp shows it: True, False or Unknown.
    static func ready(_ state: ReadyState) -> String {
        switch state {
        case .Ready: return "True"
        case .NotReady: return "False"
        default: return "Unknown"
        }
    }

    /// A time as kp shows it: `2019-09-09 21:55:27` (UTC), or `--`.
    static func time(_ iso: String?) -> String {
        guard let iso, iso.count >= 19 else { return "--" }
        return iso.prefix(10) + " " + iso.dropFirst(11).prefix(8)
    }

    /// An age as kubectl and a code engine show it: `45s`, `5m`, `3h`, `2d` since `iso`, or `--`.
    static func age(_ iso: String?, now: Date = Date()) -> String {
        guard let iso, let then = Timestamp.parse(iso) else { return "--" }
        let s = max(0, Int(now.timeIntervalSince(then)))
        switch s {
        case ..<60: return "\(s)s"
        case ..<3600: return "\(s / 60)m"
        case ..<86400: return "\(s / 3600)h"
        default: return "\(s / 86400)d"
        }
    }

    /// `image list` (rows of image/list): NAME READY LATEST IMAGE.
    /// With `allNamespaces` (`-A`), a NAMESPACE column first, as kp prints it.
    static func imageList(_ images: [ImageRow], allNamespaces: Bool = false) -> String {
        let rows = images.map { i in [i.name, ready(i.ready), i.latestImage ?? "--"] }
        guard allNamespaces else { return table(["NAME", "READY", "LATEST IMAGE"], rows) }
        return table(["NAMESPACE", "NAME", "READY", "LATEST IMAGE"], zip(images, rows).map { [$0.namespace] + $1 })
    }

    /// `image status`: the seed's block.
    static func imageStatus(_ s: ImageStatusResult) -> String {
        let state: String
        switch s.ready {
        case .Ready: state = "Ready"
        case .NotReady: state = "Not Ready"
        case .Building: state = "Building"
        case .Unknown: state = "Unknown"
        }
        var out = "Status: \(state)\nMessage: \(s.message ?? "--")\nLatestImage: \(s.latestImage ?? "--")\n"
        for (title, b) in [("Last Successful Build", s.lastSuccessfulBuild), ("Last Failed Build", s.lastFailedBuild)] {
            out += "\(title)\nId: \(b.map { String($0.number) } ?? "--")\nReason: \(b?.reason ?? "--")\n"
        }
        return out
    }

    /// `build list`: BUILD STATUS IMAGE STARTED FINISHED REASON, rows at most `width` (120)
    /// characters: an image too long for what the other columns leave is shortened (its digest
    /// to 12 hex digits, then the middle of its repository); `--output json` has it whole.
    static func buildList(_ builds: [BuildRow], width: Int = 120) -> String {
        let rows = builds.map { b in
            [String(b.number), b.status.rawValue, b.image ?? "--", time(b.started), time(b.finished), b.reasonSummary]
        }
        let header = ["BUILD", "STATUS", "IMAGE", "STARTED", "FINISHED", "REASON"]
        let others = header.indices.filter { $0 != 2 }.map { c in ([header] + rows).map { $0[c].count }.max() ?? 0 }.reduce(0, +)
        let budget = max(header[2].count, width - others - 3 * (header.count - 1))
        return table(header, rows.map { r in var r = r; r[2] = shortened(r[2], to: budget); return r })
    }

    /// An image reference in at most `limit` characters: the digest cut to 12 hex digits, then
    /// the repository's middle replaced by `…`.
    static func shortened(_ reference: String, to limit: Int) -> String {
        guard reference.count > limit else { return reference }
        var ref = reference
        if let at = ref.range(of: "@sha256:"), ref.distance(from: at.upperBound, to: ref.endIndex) > 12 {
            ref = String(ref[..<at.upperBound]) + ref[at.upperBound...].prefix(12)
        }
        guard ref.count > limit else { return ref }
        let tail = ref.range(of: "@").map { String(ref[$0.lowerBound...]) } ?? ""
        let repository = String(ref.dropLast(tail.count))
        let keep = max(2, limit - tail.count - 1)
        return repository.prefix(keep / 2) + "…" + repository.suffix(keep - keep / 2) + tail
    }

    /// `build status`: the seed's block, then the buildpacks.
    static func buildStatus(_ b: BuildStatusResult) -> String {
        var out = "Image: \(b.image ?? "--")\nStatus: \(b.status.rawValue)\n"
        out += "Reasons: \(b.reasonSummary)\n"
        // Each reason that says what changed on its line, as today's kp does: `REASON field: old
        // -> new` (an empty old value left out); a reason without a change (an image's first
        // build, a trigger) has none, as in the seed's block.
        for r in b.reasons where r.field != nil {
            let change = [r.field.map { "\($0):" }, r.old.flatMap { $0.isEmpty ? nil : $0 }, r.new.map { "-> \($0)" }].compactMap { $0 }
            out += "    " + ([r.reason.rawValue] + change).joined(separator: " ") + "\n"
        }
        out += "Builder: \(b.builder ?? "--")\nRun Image: \(b.runImage ?? "--")\n"
        out += "Source: \(b.source.type.rawValue)\n"
        out += "Url: \(b.source.url ?? "--")\n"
        out += "Revision: \(b.source.revision ?? "--")\n\n"
        out += table(["BUILDPACK ID", "BUILDPACK VERSION"], b.buildpacks.map { [$0.id, $0.version] })
        return out
    }

    /// `--output yaml`: the resource as YAML (block style, strings quoted where they must be).
    static func yaml(_ v: JSONValue, indent: String = "") -> String {
        switch v {
        case .object(let o):
            if o.isEmpty { return "{}\n" }
            return o.members.map { m in
                switch m.value {
                case .object(let inner) where !inner.isEmpty: return "\(indent)\(m.key):\n" + yaml(m.value, indent: indent + "  ")
                case .array(let a) where !a.isEmpty: return "\(indent)\(m.key):\n" + yaml(m.value, indent: indent)
                default: return "\(indent)\(m.key): " + yaml(m.value, indent: indent)
                }
            }.joined()
        case .array(let a):
            if a.isEmpty { return "[]\n" }
            return a.map { item in
                if case .object(let o) = item, !o.isEmpty {
                    let body = yaml(item, indent: indent + "  ")
                    return indent + "- " + body.dropFirst(indent.count + 2)
                }
                return indent + "- " + yaml(item, indent: indent + "  ")
            }.joined()
        case .string(let s): return JSONWriter.string(.string(s)) + "\n"
        default: return JSONWriter.string(v) + "\n"
        }
    }
}

/// `--output`: checked when the command line is read, before any request is sent.
extension Output {
    init(_ format: String?) throws {
        guard format == nil || ["json", "yaml"].contains(format!) else {
            throw Arguments.Failure(message: "invalid output format \"\(format!)\": use json or yaml")
        }
        self.init(structured: format)
    }
}
