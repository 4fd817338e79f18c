import SlipwayProtocol

/// Works out an image's status as one value, in the manner of kpack's `reconcile_build.go`:
/// from the status it had (which keeps the history a build's end adds to), its latest build,
/// the build that just ended (the latest or an earlier one), and what polling found of its
/// sources. Every change of an image's status goes through it, so the rules live in one place:
///
/// - The latest build gives `latestBuild`, `latestReason` and readiness: QUEUED or BUILDING is
///   `Building` ("build N is queued"), SUCCESS is `Ready`, FAILURE is `NotReady` ("build N
///   failed: …"). With no build, readiness stays as it was (`Unknown` for a new image).
/// - An ended build is the last successful or the last failed one; a success also gives the
///   latest image, and (Dockerfile) the FROM digests it used.
/// - Build numbers are never reused: `nextBuildNumber` is past the latest build.
public enum ImageStatusCalculator {
    public static func status(previous: ImageStatus, latest: Build?, ended: Build? = nil, polledBases: [String: String]? = nil) -> ImageStatus {
        var s = previous
        if let b = ended {
            let ending = summary(of: b)
            if b.status == .SUCCESS {
                s.lastSuccessfulBuild = ending
                s.latestImage = b.latestImage
                if let bases = b.inputs.dockerfile?.bases { s.dockerfileBases = bases }
            } else if b.status == .FAILURE {
                s.lastFailedBuild = ending
            }
        }
        if let polledBases { s.dockerfileBases = polledBases }
        guard let latest else { return s }
        s.latestBuild = latest.number
        s.latestReason = BuildReasonCalculator.summary(latest.reasonKinds)
        s.nextBuildNumber = max(s.nextBuildNumber, latest.number + 1)
        switch latest.status {
        case .QUEUED, .BUILDING:
            s.ready = .Building
            s.message = "build \(latest.number) is queued"
        case .SUCCESS:
            s.ready = .Ready
            s.message = nil
        case .FAILURE:
            s.ready = .NotReady
            s.message = "build \(latest.number) failed: \(latest.message ?? "")"
        }
        return s
    }

    private static func summary(of b: Build) -> ImageStatus.BuildSummary {
        .init(number: b.number, reason: BuildReasonCalculator.summary(b.reasonKinds))
    }
}
