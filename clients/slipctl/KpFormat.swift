import Foundation
import JSONRPC

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
    static func ready(_ state: String?) -> String {
        switch state {
        case "Ready": return "True"
        case "NotReady": return "False"
        default: return "Unknown"
        }
    }

    /// A time as kp shows it: `2019-09-09 21:55:27` (UTC), or `--`.
    static func time(_ iso: String?) -> String {
        guard let iso, iso.count >= 19 else { return "--" }
        return iso.prefix(10) + " " + iso.dropFirst(11).prefix(8)
    }

    /// `image list` (rows of image/list): NAME READY LATEST IMAGE.
    /// With `allNamespaces` (`-A`), a NAMESPACE column first, as kp prints it.
    static func imageList(_ images: [JSONValue], allNamespaces: Bool = false) -> String {
        let rows = images.map { i in
            [i["name"]?.stringValue ?? "", ready(i["ready"]?.stringValue), i["latestImage"]?.stringValue ?? "--"]
        }
        guard allNamespaces else { return table(["NAME", "READY", "LATEST IMAGE"], rows) }
        return table(["NAMESPACE", "NAME", "READY", "LATEST IMAGE"], zip(images, rows).map { [$0["namespace"]?.stringValue ?? ""] + $1 })
    }

    /// `image status`: the seed's block.
    static func imageStatus(_ s: JSONValue) -> String {
        let state: String
        switch s["ready"]?.stringValue {
        case "Ready": state = "Ready"
        case "NotReady": state = "Not Ready"
        case "Building": state = "Building"
        default: state = "Unknown"
        }
        var out = "Status: \(state)\nMessage: \(s["message"]?.stringValue ?? "--")\nLatestImage: \(s["latestImage"]?.stringValue ?? "--")\n"
        for (title, key) in [("Last Successful Build", "lastSuccessfulBuild"), ("Last Failed Build", "lastFailedBuild")] {
            let b = s[key]
            out += "\(title)\nId: \(b?["number"]?.int64Value.map(String.init) ?? "--")\nReason: \(b?["reason"]?.stringValue ?? "--")\n"
        }
        return out
    }

    /// `build list`: BUILD STATUS IMAGE STARTED FINISHED REASON.
    static func buildList(_ builds: [JSONValue]) -> String {
        table(["BUILD", "STATUS", "IMAGE", "STARTED", "FINISHED", "REASON"], builds.map { b in
            [b["number"]?.int64Value.map(String.init) ?? "", b["status"]?.stringValue ?? "", b["image"]?.stringValue ?? "--",
             time(b["started"]?.stringValue), time(b["finished"]?.stringValue), b["reasonSummary"]?.stringValue ?? ""]
        })
    }

    /// `build status`: the seed's block, then the buildpacks.
    static func buildStatus(_ b: JSONValue) -> String {
        let source = b["source"]
        var out = "Image: \(b["image"]?.stringValue ?? "--")\nStatus: \(b["status"]?.stringValue ?? "")\n"
        out += "Reasons: \(b["reasonSummary"]?.stringValue ?? "")\n"
        // Each reason that says what changed, as today's kp does: `field: old -> new`.
        for r in b["reasons"]?.arrayValue ?? [] {
            guard let field = r["field"]?.stringValue, let old = r["old"]?.stringValue, let new = r["new"]?.stringValue else { continue }
            out += "    \(r["reason"]?.stringValue ?? "") \(field): \(old) -> \(new)\n"
        }
        out += "Builder: \(b["builder"]?.stringValue ?? "--")\nRun Image: \(b["runImage"]?.stringValue ?? "--")\n"
        out += "Source: \(source?["type"]?.stringValue ?? "--")\n"
        out += "Url: \(source?["url"]?.stringValue ?? "--")\n"
        out += "Revision: \(source?["revision"]?.stringValue ?? "--")\n\n"
        out += table(["BUILDPACK ID", "BUILDPACK VERSION"], (b["buildpacks"]?.arrayValue ?? []).map { [$0["id"]?.stringValue ?? "", $0["version"]?.stringValue ?? ""] })
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
