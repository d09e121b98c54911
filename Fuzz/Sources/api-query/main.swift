import FuzzTargets

#if canImport(Glibc)
import Glibc
#endif

// libFuzzer's driver, called from this executable's own `main`: SwiftPM names an executable's
// entry point after its module, so libFuzzer's `main` is not the one linked. Declared here by
// name, as libFuzzer (LLVM 11+) exports it; there is no Swift module for it.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
    FuzzTarget.apiQuery.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
})
