// A read cache in front of a remote driver (S3): the small content and the
// Stat answers that a manifest GET or a blob HEAD asks for, kept for a
// short time, so that repeated reads cost no round trip to the store.
//
// What it keeps: positive answers only (GetContent up to max_entry_bytes,
// Stat), never for upload sessions (`/_uploads/`: their offsets and hash
// states move with every PATCH, possibly on another process). Absent paths
// are asked again every time, so what another process has just pushed is
// seen at once. Everything written, moved or deleted through this driver is
// dropped from the cache at once (a deleted directory: all below it).
// What another process changes (a tag moved, a manifest deleted, a GC
// there) is seen here after at most `ttl_ms`.
#pragma once

#include <cstdint>
#include <memory>

#include "registry/storage/driver.h"

namespace hoist::storage {

struct CacheOptions {
  int64_t ttl_ms = 1000;               // 0: no cache (the driver is returned as is)
  size_t max_entry_bytes = 256 << 10;  // larger content is not kept
  size_t max_total_bytes = 64 << 20;   // beyond: expired entries, then all, are dropped
};

std::unique_ptr<StorageDriver> NewCachingDriver(std::unique_ptr<StorageDriver> inner,
                                                CacheOptions options);

}  // namespace hoist::storage
