/// examples/hello-app, the app most end-to-end builds build, and the line its image prints.
public enum HelloApp {
    public static var path: String { Repo.examples.appendingPathComponent("hello-app").path }
    public static let expectedLine = "Hello from Slipway! (built by slipway/build-script)"
}
