import Testing

@Test func placeholderMitigationTests() { #expect(Bool(true)) }
