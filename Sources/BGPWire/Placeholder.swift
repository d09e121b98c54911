/// Placeholder while the module is written (issue 21).
enum BGPWireModule {}
