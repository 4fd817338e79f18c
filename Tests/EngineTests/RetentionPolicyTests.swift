import SlipwayProtocol
import Testing
@testable import Engine

@Suite struct RetentionPolicyTests {
    @Test func keepsTheNewestTenOfEachOutcome() {
        let builds = (1...12).map { (number: $0, status: BuildState.FAILURE) }
        #expect(RetentionPolicy.buildsToDelete(builds, keepSucceeded: 10, keepFailed: 10) == [1, 2])
    }

    @Test func countsSuccessesAndFailuresSeparatelyAndNeverDeletesUnfinishedBuilds() {
        let builds: [(number: Int, status: BuildState)] = [(1, .SUCCESS), (2, .FAILURE), (3, .SUCCESS), (4, .FAILURE), (5, .SUCCESS), (6, .BUILDING), (7, .QUEUED)]
        #expect(RetentionPolicy.buildsToDelete(builds, keepSucceeded: 2, keepFailed: 1) == [1, 2])
        #expect(RetentionPolicy.buildsToDelete(builds, keepSucceeded: 10, keepFailed: 10).isEmpty)
    }
}
