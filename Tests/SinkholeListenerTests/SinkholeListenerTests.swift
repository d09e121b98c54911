import SinkholeListener
import Testing

@Suite struct SinkholeListenerTests {}
