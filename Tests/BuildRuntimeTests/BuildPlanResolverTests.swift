import Foundation
import Testing
@testable import BuildRuntime

@Suite struct BuildPlanResolverTests {
    typealias R = PlanOption.Requirement

    @Test func emptyPlansPass() {
        let g = BuildPlanResolver.resolve([DetectedBuildpack(id: "a", optional: false, options: [PlanOption()])])
        #expect(g?.buildpackIDs == ["a"])
    }

    @Test func requiresMustBeProvidedByTheSameOrAnEarlierBuildpack() {
        let node = DetectedBuildpack(id: "node", optional: false, options: [PlanOption(provides: ["node"])])
        let npm = DetectedBuildpack(id: "npm", optional: false, options: [PlanOption(requires: [R(name: "node", metadata: TOMLTable([("version", .string("18"))]))])])
        let g = BuildPlanResolver.resolve([node, npm])
        #expect(g?.buildpackIDs == ["node", "npm"])
        #expect(g?.plans["node"]?.first?.metadata["version"]?.string == "18")
        #expect(g?.plans["npm"] == [])
        // Wrong order: the requirement comes before the provision.
        #expect(BuildPlanResolver.resolve([npm, node]) == nil)
    }

    @Test func provisionsMustBeRequired() {
        let lonely = DetectedBuildpack(id: "a", optional: false, options: [PlanOption(provides: ["x"])])
        #expect(BuildPlanResolver.resolve([lonely]) == nil)
    }

    @Test func orAlternativesAreTriedInOrder() {
        let a = DetectedBuildpack(id: "a", optional: false, options: [PlanOption(provides: ["x"]), PlanOption(provides: ["y"])])
        let b = DetectedBuildpack(id: "b", optional: false, options: [PlanOption(requires: [R(name: "y")])])
        let g = BuildPlanResolver.resolve([a, b])
        #expect(g?.buildpackIDs == ["a", "b"])
        #expect(g?.plans["a"]?.map(\.name) == ["y"])
    }

    @Test func optionalBuildpacksThatDoNotFitAreLeftOut() {
        let a = DetectedBuildpack(id: "a", optional: false, options: [PlanOption()])
        let opt = DetectedBuildpack(id: "opt", optional: true, options: [PlanOption(requires: [R(name: "nothing-provides-this")])])
        #expect(BuildPlanResolver.resolve([a, opt])?.buildpackIDs == ["a"])
        let req = DetectedBuildpack(id: "req", optional: false, options: [PlanOption(requires: [R(name: "nothing-provides-this")])])
        #expect(BuildPlanResolver.resolve([a, req]) == nil)
    }
}
