// Files that hold keys: written atomically with an exact mode, read with a size cap and, for
// secrets, refused when group or others can access them (as ssh refuses private keys).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "common/status.h"

namespace hc::crypto {

// Writes `data` to `path` so that `path` is either absent or complete, even across a crash: a new
// temporary file beside it (O_EXCL | O_NOFOLLOW, so never someone else's file or a planted
// symlink), created with `mode` from the start so a secret is never readable by others, synced,
// then renamed (overwrite) or hard-linked (no overwrite: link fails atomically with EEXIST, where
// a check-then-rename would race), then the directory synced so the new name is durable.
// AlreadyExists when `path` exists and !overwrite; IoError naming the path and step otherwise.
Status WriteFileAtomically(const std::string& path, std::string_view data, mode_t mode,
                           bool overwrite);

// Reads at most `max_bytes` of the regular file `path` into `*out`; `what` names the file in
// errors ("key file"). With `private_file`, refuses (PermissionDenied, naming the path and mode) a
// file that group or others can access, before reading a byte of it; the mode comes from the open
// descriptor, so the file checked is the file read. `*out` is reserved once, so a secret is never
// left behind by a reallocation. NotFound when the file does not exist.
Status ReadSmallFile(const std::string& path, std::string_view what, size_t max_bytes,
                     bool private_file, std::string* out);

// Wipes the whole allocation of `s` (sodium_memzero), not only its current size: the bytes past
// size() may still hold secrets from before a shrink.
void WipeString(std::string& s);

// Wipes a string holding a secret when it goes out of scope.
class ScopedWipe {
 public:
  explicit ScopedWipe(std::string* s) : s_(s) {}
  ~ScopedWipe() { WipeString(*s_); }
  ScopedWipe(const ScopedWipe&) = delete;
  ScopedWipe& operator=(const ScopedWipe&) = delete;

 private:
  std::string* s_;
};

std::string ErrnoMessage(int err);
// "0644"
std::string ModeString(mode_t mode);

}  // namespace hc::crypto
