import Testing

@Test func placeholderBGPSpeakerTests() { #expect(Bool(true)) }
