"""Aurora: the pre-trade gate, its configuration, events, analytics and tools."""

from aurora import native as _native

# before any gate module is imported: compiled decision path, or its sources when the build is stale
_native.activate()
