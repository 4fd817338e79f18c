import SlipwayProtocol
import BuildRuntime
import Foundation



// MARK: - Stacks


// MARK: - Dockerfile base images


// MARK: - Stores


// MARK: - Builders

extension Engine {









    /// Compares versions numerically part by part (`1.10.0` > `1.9.2`).
    static func versionLess(_ a: String, _ b: String) -> Bool {
        let pa = a.split(whereSeparator: { $0 == "." || $0 == "-" }), pb = b.split(whereSeparator: { $0 == "." || $0 == "-" })
        for (x, y) in zip(pa, pb) where x != y {
            if let ix = Int(x), let iy = Int(y) { return ix < iy }
            return x < y
        }
        return pa.count < pb.count
    }
}
