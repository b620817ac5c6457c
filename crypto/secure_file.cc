#include "crypto/secure_file.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "common/encoding.h"
#include "crypto/ed25519.h"

namespace hc::crypto {
namespace {

Status SyncDirectory(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open directory " + dir + ": " + ErrnoMessage(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return IoError("cannot sync directory " + dir + ": " + ErrnoMessage(err));
  return Status::Ok();
}

}  // namespace

void WipeString(std::string& s) {
  s.resize(s.capacity());
  sodium_memzero(s.data(), s.size());
  s.clear();
}

std::string ErrnoMessage(int err) {
  return std::error_code(err, std::generic_category()).message();
}

std::string ModeString(mode_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

Status WriteFileAtomically(const std::string& path, std::string_view data, mode_t mode,
                           bool overwrite) {
  if (path.empty()) return InvalidArgument("empty file path");
  std::array<uint8_t, 8> suffix;
  internal::EnsureSodiumInit();
  randombytes_buf(suffix.data(), suffix.size());
  const std::string tmp = path + ".tmp-" + HexEncode(suffix);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) {
      const std::string dir = std::filesystem::path(path).parent_path().string();
      return IoError("cannot write " + path + ": directory " + (dir.empty() ? "." : dir) +
                     " does not exist");
    }
    return IoError("cannot write " + path + ": " + ErrnoMessage(err));
  }
  auto fail = [&](const std::string& what, int err) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    return IoError("cannot write " + path + ": " + what + ": " + ErrnoMessage(err));
  };
  // open() applied the umask; the mode must be exactly what was asked for.
  if (::fchmod(fd, mode) != 0) return fail("chmod", errno);
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write", errno);
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("fsync", errno);
  const int close_rc = ::close(fd);
  fd = -1;
  if (close_rc != 0) return fail("close", errno);
  if (overwrite) {
    if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("rename", errno);
  } else {
    if (::link(tmp.c_str(), path.c_str()) != 0) {
      const int err = errno;
      ::unlink(tmp.c_str());
      if (err == EEXIST) return AlreadyExists(path + ": already exists; refusing to overwrite it");
      return IoError("cannot write " + path + ": link: " + ErrnoMessage(err));
    }
    ::unlink(tmp.c_str());
  }
  return SyncDirectory(path);
}

Status ReadSmallFile(const std::string& path, std::string_view what, size_t max_bytes,
                     bool private_file, std::string* out) {
  // O_NONBLOCK so that a FIFO planted at `path` cannot hang us; it is refused as not regular below.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return NotFound(std::string(what) + " " + path + ": does not exist");
    return IoError(std::string(what) + " " + path + ": cannot open: " + ErrnoMessage(err));
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return IoError(std::string(what) + " " + path + ": stat: " + ErrnoMessage(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return InvalidArgument(std::string(what) + " " + path + ": not a regular file");
  }
  if (private_file && (st.st_mode & 077) != 0) {
    return PermissionDenied(std::string(what) + " " + path + ": permissions " +
                            ModeString(st.st_mode) +
                            " are too open; it must not be accessible by group or others (run: "
                            "chmod 600 " +
                            path + ")");
  }
  // Reserved once so that the secret is never copied by a reallocation.
  out->assign(max_bytes + 1, '\0');
  size_t got = 0;
  while (got < out->size()) {
    const ssize_t n = ::read(fd, out->data() + got, out->size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError(std::string(what) + " " + path + ": read: " + ErrnoMessage(errno));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > max_bytes) {
    return InvalidArgument(std::string(what) + " " + path + ": larger than " +
                           std::to_string(max_bytes) + " bytes");
  }
  out->resize(got);  // shrinking never reallocates
  return Status::Ok();
}

}  // namespace hc::crypto
