extension String {
    /// The text of a C buffer up to its first NUL (all of it when there is none): what
    /// inet_ntop, strftime, fgets and libpcap's error buffer fill. Invalid UTF-8 is
    /// repaired rather than trusted.
    public init(nulTerminated buffer: [CChar]) {
        let end = buffer.firstIndex(of: 0) ?? buffer.endIndex
        self = String(decoding: buffer[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
