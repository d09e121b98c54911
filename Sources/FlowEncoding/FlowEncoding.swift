// FlowEncoding: flow records → the datagrams an exporter sends, the inverse of FlowCodec's
// decoder. NetFlow v5, NetFlow v9 and IPFIX (``FlowExportEncoder``), sFlow v5 (``SFlowEncoder``)
// and RFC 8158 CGNAT port-block events over IPFIX (``NATEventEncoder``), with templates, sequence
// numbers and sampling announcements as a router or CGNAT box writes them. Pure: no sockets,
// clocks or files. It imports FlowCodec only (``FlowRecord``, ``IPAddress``, the template vocabulary).
// Lives beside the simulator, which exports its traffic through it; `mamori bench` and the tests
// that feed the collector real datagrams use it too. Nothing on Mamori's receive path encodes.
