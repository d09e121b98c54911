// FlowFiles: flow data that arrives as a file rather than on the wire. Classic pcap captures
// (``PcapFile``, and ``PcapWriter`` for the simulator's captures), nfdump/nfcapd files
// (``NfdumpFile``, layouts 1 and 2), Argus binetflow text (``BinetflowParser``) and Zeek conn.log
// (``ZeekConnLog``), the last two as ``ConversationRecord``s. Pure like FlowCodec: bytes or text
// in, ``FlowRecord``s out, the caller opens the file. It imports FlowCodec only (for the shared
// values: ``FlowRecord``, ``IPAddress``). Used offline — by `mamori analyze`, `decode`, `replay`
// and `simulate`, by Evaluation's replay of binetflow and Zeek logs, by the fuzz targets, and by
// the test support that loads capture fixtures (MamoriTesting); the collector never reads files.
