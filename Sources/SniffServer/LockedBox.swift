import Synchronization

/// A value shared between tasks, read and replaced whole under a mutex.
final class LockedBox<T: Sendable>: Sendable {
    private let value: Mutex<T>
    init(_ v: T) { value = Mutex(v) }
    func get() -> T { value.withLock { $0 } }
    func set(_ v: T) { value.withLock { $0 = v } }
}
