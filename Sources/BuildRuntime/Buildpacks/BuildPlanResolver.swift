/// One alternative of a buildpack's detect output: what it provides and what it requires.
public struct PlanOption: Sendable, Equatable {
    public var provides: [String]
    public var requires: [Requirement]

    /// A `[[requires]]` entry with its metadata.
    public struct Requirement: Sendable, Equatable {
        public var name: String
        public var metadata: TOMLTable
        public init(name: String, metadata: TOMLTable = TOMLTable()) {
            self.name = name
            self.metadata = metadata
        }
    }

    public init(provides: [String] = [], requires: [Requirement] = []) {
        self.provides = provides
        self.requires = requires
    }

    /// The options a detect plan file offers: the top-level one, then each `[[or]]`.
    public static func options(fromPlan table: TOMLTable) -> [PlanOption] {
        func option(_ t: TOMLTable) -> PlanOption {
            PlanOption(
                provides: (t["provides"]?.tables ?? []).compactMap { $0["name"]?.string },
                requires: (t["requires"]?.tables ?? []).compactMap { r in
                    r["name"]?.string.map { Requirement(name: $0, metadata: r["metadata"]?.table ?? TOMLTable()) }
                })
        }
        return [option(table)] + (table["or"]?.tables ?? []).map(option)
    }
}

/// A buildpack that passed detection, with the plan options it offered.
public struct DetectedBuildpack: Sendable, Equatable {
    public var id: String
    public var optional: Bool
    public var options: [PlanOption]
    public init(id: String, optional: Bool, options: [PlanOption]) {
        self.id = id
        self.optional = optional
        self.options = options
    }
}

/// The outcome of resolving one group: the buildpacks that take part, in order, and for each
/// the plan entries (requirements) it is to provide.
public struct ResolvedGroup: Sendable, Equatable {
    public var buildpackIDs: [String]
    public var plans: [String: [PlanOption.Requirement]]
}

/// The detection rule of the buildpack spec as a pure function: choose the first combination
/// of plan options in which every requirement is provided by the same or an earlier buildpack
/// and every provision is required by the same or a later one. Optional buildpacks whose plan
/// does not fit are left out; a required one that does not fit fails the combination.
public enum BuildPlanResolver {
    public static func resolve(_ detected: [DetectedBuildpack]) -> ResolvedGroup? {
        guard !detected.isEmpty else { return nil }
        var indices = [Int](repeating: 0, count: detected.count)
        while true {
            let trial = zip(detected, indices).map { ($0.id, $0.optional, $0.options.isEmpty ? PlanOption() : $0.options[$1]) }
            if let group = check(trial) { return group }
            // Next combination: the last buildpack's options vary fastest.
            var k = detected.count - 1
            while k >= 0 {
                indices[k] += 1
                if indices[k] < max(1, detected[k].options.count) { break }
                indices[k] = 0
                k -= 1
            }
            if k < 0 { return nil }
        }
    }

    /// Checks one combination, leaving out optional buildpacks whose plan does not fit.
    static func check(_ trial: [(id: String, optional: Bool, option: PlanOption)]) -> ResolvedGroup? {
        var members = trial
        while true {
            var provided: [String: [Int]] = [:]  // name → member indices providing it so far
            var unmet: Int?
            for (i, m) in members.enumerated() {
                for p in m.option.provides { provided[p, default: []].append(i) }
                for r in m.option.requires where provided[r.name] == nil {
                    unmet = i
                    break
                }
                if unmet != nil { break }
            }
            if unmet == nil {
                var required: Set<String> = []
                for (i, m) in members.enumerated().reversed() {
                    for r in m.option.requires { required.insert(r.name) }
                    if m.option.provides.contains(where: { !required.contains($0) }) {
                        unmet = i
                        break
                    }
                }
            }
            guard let bad = unmet else {
                var plans: [String: [PlanOption.Requirement]] = [:]
                for m in members { plans[m.id] = [] }
                for m in members {
                    for r in m.option.requires {
                        for j in provided[r.name] ?? [] { plans[members[j].id, default: []].append(r) }
                    }
                }
                let ids = members.map(\.id)
                return ids.isEmpty ? nil : ResolvedGroup(buildpackIDs: ids, plans: plans)
            }
            guard members[bad].optional else { return nil }
            members.remove(at: bad)
        }
    }
}
