import Foundation
import MamoriTesting
import Testing

/// The analysts' console in a real browser (issue 19): `Tests/browser/console_test.py` drives
/// Debian's headless Chromium through chromedriver with Selenium (from PyPI, in
/// `.build/pytools`, both installed by scripts/test) against `mamori serve` fed by the
/// simulator. It signs in, reads the overview, opens a C&C finding's cohort and beacon plot,
/// marks it a false positive, reveals a case's subscriber with a reason, finds the reveal on the
/// audit page under the analyst's account, and switches to English and back; each step's
/// screenshot lands in `.build/test-artefacts/console/`.
@Suite(.serialized, .timeLimit(.minutes(6)))
struct ConsoleBrowserTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .path

    @Test func analystUsesTheConsoleInChromium() async throws {
        let mamori = try ExternalPeer.builtProduct("mamori")
        let python = Self.root + "/.build/pytools/bin/python"
        try #require(
            FileManager.default.isExecutableFile(atPath: python),
            "the PyPI test tools are missing from \(Self.root)/.build/pytools: run scripts/test, which installs selenium there")
        let chromium = try ExternalPeer.require("chromium", debianPackage: "chromium")
        let driver = try ExternalPeer.require("chromedriver", debianPackage: "chromium-driver")
        let out = Self.root + "/.build/test-artefacts/console"
        try? FileManager.default.removeItem(atPath: out)
        let arguments = [
            Self.root + "/Tests/browser/console_test.py", "--mamori", mamori.path, "--out", out, "--chromium", chromium.path,
            "--chromedriver", driver.path,
        ]
        let result = try await offThePool { try ExternalPeer(path: python).runToExit(arguments, timeout: .seconds(330)) }
        #expect(result.status == 0, "the browser test failed:\n\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("every check held"), "\(result.stdout)")
        #expect(!result.stdout.contains("FAIL"), "\(result.stdout)")
        let shots = (try? FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasSuffix(".png") }) ?? []
        #expect(shots.count >= 9, "screenshots: \(shots.sorted())")
        for s in shots {
            let size = (try? FileManager.default.attributesOfItem(atPath: out + "/" + s)[.size] as? Int) ?? 0
            #expect(size > 10_000, "\(s) is \(size) bytes: not a rendered page")
        }
    }
}
