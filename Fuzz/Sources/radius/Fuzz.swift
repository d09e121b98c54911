import FuzzTargets

/// libFuzzer's entry point: one input through ``FuzzTarget/radius``.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafeRawPointer?, _ size: Int) -> CInt {
    FuzzTarget.radius.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
