#include "node/backup.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string_view>

#include "common/clock.h"
#include "ledger/ledger.h"

namespace hc::node {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kPartialPrefix = ".partial-";

// h000000001234-20261206T211500.123Z: sorts by height, then time.
std::string BackupName(uint64_t height, int64_t now_ms) {
  char name[48];
  std::snprintf(name, sizeof(name), "h%012llu-%s.%03dZ", static_cast<unsigned long long>(height),
                FormatUtc(now_ms, "%Y%m%dT%H%M%S").c_str(), static_cast<int>(now_ms % 1000));
  return name;
}

// Matches BackupName's shape: h, 12 digits, -, 8 digits, T, 6 digits, ., 3 digits, Z.
bool IsBackupName(std::string_view name) {
  constexpr std::string_view kShape = "hdddddddddddd-ddddddddTdddddd.dddZ";
  if (name.size() != kShape.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const bool digit = name[i] >= '0' && name[i] <= '9';
    if (kShape[i] == 'd' ? !digit : name[i] != kShape[i]) return false;
  }
  return true;
}

// Makes a rename or removal in `dir` durable.
Status SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("opening " + dir + " to sync it");
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return IoError("syncing " + dir);
  return Status::Ok();
}

uint64_t TreeBytes(const fs::path& root) {
  uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      const auto size = it->file_size(size_ec);
      if (!size_ec) total += size;
    }
  }
  return total;
}

// Opens the checkpoint as a ledger: the open-time checks (R25) on the copy. Returns its tip.
Result<BackupResult> CheckCopy(const std::string& db, const ledger::Genesis& genesis,
                               const crypto::Verifier& verifier) {
  ledger::RocksOptions ro;
  ro.create_if_missing = false;
  HC_ASSIGN_OR_RETURN(auto store, ledger::RocksKvStore::Open(db, ro));
  // Nothing is committed on the copy: the replay check's memory (R5) is not loaded.
  auto opened = ledger::Ledger::Open(std::move(store), genesis, verifier, {.recent_ids_max = 0});
  if (!opened.ok()) return opened.status().WithContext("the checkpoint does not open as a ledger");
  BackupResult r;
  r.height = opened.value()->height();
  r.tip_hash = opened.value()->tip_hash();
  return r;
}

}  // namespace

std::vector<std::string> ListBackups(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (IsBackupName(name)) names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  return names;
}

Result<BackupResult> WriteBackup(ledger::RocksKvStore& store, const ledger::Genesis& genesis,
                                 const crypto::Verifier& verifier, const std::string& backup_dir,
                                 uint32_t keep, int64_t now_ms) {
  std::error_code ec;
  // Absolute, so that the log names the backup unambiguously whatever the node's working directory.
  const std::string dir = fs::absolute(backup_dir, ec).lexically_normal().string();
  if (ec) return IoError("backup directory " + backup_dir + ": " + ec.message());
  fs::create_directories(dir, ec);
  if (ec) return IoError("backup directory " + dir + ": " + ec.message());
  // What an interrupted backup left behind is never a backup.
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().starts_with(kPartialPrefix)) {
      std::error_code rm_ec;
      fs::remove_all(it->path(), rm_ec);
    }
  }
  const fs::path partial = fs::path(dir) / (std::string(kPartialPrefix) + std::to_string(now_ms));
  fs::create_directories(partial, ec);
  if (ec) return IoError("creating " + partial.string() + ": " + ec.message());
  auto fail = [&](Status s) {
    std::error_code rm_ec;
    fs::remove_all(partial, rm_ec);
    return s;
  };

  if (Status s = store.Checkpoint((partial / "db").string()); !s.ok()) return fail(s);
  auto checked = CheckCopy((partial / "db").string(), genesis, verifier);
  if (!checked.ok()) return fail(checked.status());
  BackupResult result = std::move(checked).value();

  const fs::path final_path = fs::path(dir) / BackupName(result.height, now_ms);
  fs::rename(partial, final_path, ec);
  if (ec) return fail(IoError("renaming " + partial.string() + ": " + ec.message()));
  if (Status s = SyncDir(dir); !s.ok()) return s;
  result.path = final_path.string();
  result.bytes = TreeBytes(final_path);

  // Keep the newest `keep` (this one is the newest by time; by name it sorts last unless an older
  // backup has a greater height, which only a restored, rolled-back database can make).
  std::vector<std::string> names = ListBackups(dir);
  std::erase(names, final_path.filename().string());
  const size_t others_kept = keep > 0 ? keep - 1 : 0;
  while (names.size() > others_kept) {
    const fs::path old = fs::path(dir) / names.front();
    fs::remove_all(old, ec);
    if (ec) break;  // the next backup tries again; this one is complete
    result.removed.push_back(old.string());
    names.erase(names.begin());
  }
  if (!result.removed.empty()) {
    if (Status s = SyncDir(dir); !s.ok()) return s;
  }
  return result;
}

}  // namespace hc::node
