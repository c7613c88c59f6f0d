// The S3 storage driver: the StorageDriver seam over an S3 bucket, in the
// key layout of distribution's S3 driver (a path "/docker/registry/v2/..."
// is the key "<rootdirectory>/docker/registry/v2/..."), so a bucket written
// by registry:2 is served as it is. Requests are signed with AWS Signature
// Version 4 (storage/sigv4.h) and sent by common/http_client.h; responses'
// XML is read with libxml2.
//
// Directories are key prefixes. A Writer buffers up to one part: a file
// larger than that goes up as a multipart upload; an append to an existing
// object starts from a server-side copy of it (UploadPartCopy) when it is
// at least the 5 MiB minimum part size, from its bytes otherwise, so the
// object is whole again after every Commit and any process may read or
// append to it next. Move is a server-side copy (multipart above 5 GiB)
// and a delete: never a download.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "registry/storage/driver.h"

namespace hoist::storage {

struct S3Options {
  std::string endpoint;  // "http://127.0.0.1:7480", "https://s3.example"
  std::string bucket;
  std::string region = "us-east-1";
  std::string access_key, secret_key;
  std::string root_directory;     // a key prefix, as distribution's rootdirectory
  bool path_style = true;         // false: bucket.host (virtual-host addressing)
  std::string ca_file;            // extra CA for the endpoint's TLS
  int64_t part_bytes = 32 << 20;  // multipart part size; at least 5 MiB
};

// Checks the options and that the bucket answers to the credentials
// (kInvalidArgument naming what is wrong: endpoint, bucket, keys).
Result<std::unique_ptr<StorageDriver>> NewS3Driver(const S3Options& options);

}  // namespace hoist::storage
