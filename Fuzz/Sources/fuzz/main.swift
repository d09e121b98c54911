import FuzzTargets

#if canImport(Glibc)
import Glibc
#endif

// libFuzzer's driver, called from this executable's own `main`: SwiftPM names an executable's
// entry point after its module, so libFuzzer's `main` is not the one linked. Declared here by
// name, as libFuzzer (LLVM 11+) exports it; there is no Swift module for it.
// swift-format-ignore: AlwaysUseLowerCamelCase
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

// `fuzz TARGET [libFuzzer options] [corpus directories]`: the target's name is ours, the rest is
// libFuzzer's. The callback is a C function pointer and cannot capture, so the target is a global.
// libFuzzer's `-merge=1` runs this executable again with libFuzzer's arguments only: the target
// travels to that child in MAMORI_FUZZ_TARGET, set here.
let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
let named = CommandLine.argc >= 2 ? FuzzTarget(rawValue: CommandLine.arguments[1]) : nil
let inherited = getenv("MAMORI_FUZZ_TARGET").flatMap { FuzzTarget(rawValue: String(cString: $0)) }
guard let chosen = named ?? inherited else {
    print("usage: fuzz TARGET [libFuzzer options] [corpus directories]; TARGET is one of \(names)")
    exit(2)
}
setenv("MAMORI_FUZZ_TARGET", chosen.rawValue, 1)
nonisolated(unsafe) var target = chosen
let first = named == nil ? 1 : 2
var argv = [CommandLine.unsafeArgv[0]] + (first..<Int(CommandLine.argc)).map { CommandLine.unsafeArgv[$0] }
var argc = Int32(argv.count)
let status = argv.withUnsafeMutableBufferPointer { buffer -> Int32 in
    var pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
    return LLVMFuzzerRunDriver(&argc, &pointer) { data, size in
        target.run(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }
}
exit(status)
