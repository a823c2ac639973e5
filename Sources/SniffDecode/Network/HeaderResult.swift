/// The outcome of reading one header: the header, a cut (with how much was there and
/// how much was needed), or a contradiction in the header itself.
public enum HeaderResult<Header> {
    case ok(Header)
    case short(have: Int, need: Int)
    case malformed(Malformation)
}
