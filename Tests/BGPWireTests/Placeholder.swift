import Testing

@Test func placeholderBGPWireTests() { #expect(Bool(true)) }
