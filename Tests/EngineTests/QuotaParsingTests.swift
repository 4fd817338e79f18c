import Testing
@testable import Engine

/// The text of `--quota` (RESOURCE=VALUE,…), parsed into a `Quota` or refused.
@Suite struct QuotaParsingTests {
    @Test(arguments: [("images=5", Quota(images: 5)), ("images=unlimited,storage=10G", Quota(images: nil, storage: 10 << 30)),
                      ("buildruns=0", Quota(buildruns: 0))])
    func quotaFlags(_ text: String, _ expected: Quota) throws {
        guard case .success(let q) = Quota.parse(text) else { Issue.record("\(text) should parse"); return }
        #expect(q == expected)
    }

    @Test(arguments: ["images", "images=-1", "disk=5", "storage=5X", ""])
    func badQuotaFlags(_ text: String) {
        guard case .failure = Quota.parse(text) else { Issue.record("\(text) should be refused"); return }
    }
}
