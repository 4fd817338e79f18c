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

    /// `build list`: BUILD STATUS IMAGE STARTED FINISHED REASON.
    static func buildList(_ builds: [BuildRow]) -> String {
        table(["BUILD", "STATUS", "IMAGE", "STARTED", "FINISHED", "REASON"], builds.map { b in
            [String(b.number), b.status.rawValue, b.image ?? "--", time(b.started), time(b.finished), b.reasonSummary]
        })
    }

    /// `build status`: the seed's block, then the buildpacks.
    static func buildStatus(_ b: BuildStatusResult) -> String {
        var out = "Image: \(b.image ?? "--")\nStatus: \(b.status.rawValue)\n"
        out += "Reasons: \(b.reasonSummary)\n"
        // Each reason that says what changed, as today's kp does: `field: old -> new`.
        for r in b.reasons {
            guard let field = r.field, let old = r.old, let new = r.new else { continue }
            out += "    \(r.reason.rawValue) \(field): \(old) -> \(new)\n"
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
