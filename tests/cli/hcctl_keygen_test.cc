// hcctl keygen, run as a child process the way an operator runs it.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/encoding.h"
#include "crypto/keyfile.h"
#include "crypto/tls.h"
#include "tests/cli/run_process.h"
#include "tests/temp_dir_test.h"

namespace hc::cli {
namespace {

namespace fs = std::filesystem;
using ::hc::test::ProcessResult;
using ::hc::test::RunProcess;

class HcctlKeygenTest : public ::hc::test::TempDirTest {
 protected:
  static ProcessResult Keygen(std::vector<std::string> args) {
    args.insert(args.begin(), {HCCTL_PATH, "keygen"});
    return RunProcess(args);
  }

  // The value printed on the "name: value" line of hcctl's output.
  static std::string Field(const std::string& out, const std::string& name) {
    const std::string key = name + ": ";
    const size_t at = out.find(key);
    if (at == std::string::npos) return "";
    const size_t start = at + key.size();
    return out.substr(start, out.find('\n', start) - start);
  }
};

TEST_F(HcctlKeygenTest, CreatesA0600KeyFileThatLoads) {
  const std::string path = Path("hospital.key");
  const ProcessResult r = Keygen({"--out", path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  auto identity = crypto::LoadIdentity(path);
  ASSERT_TRUE(identity.ok()) << identity.status().ToString();
  // What was printed is the identity in the file.
  EXPECT_EQ(Field(r.out, "ed25519_public"), Base64Encode(identity->signing.public_key)) << r.out;
  EXPECT_EQ(Field(r.out, "x25519_public"), Base64Encode(identity->encryption.public_key)) << r.out;
  EXPECT_EQ(Field(r.out, "id"), crypto::IdentityIdHex(identity->signing.public_key)) << r.out;
  // No secret reaches the terminal.
  EXPECT_EQ(r.out.find(Base64Encode(identity->signing.secret_key.seed())), std::string::npos);
  EXPECT_EQ(r.out.find(Base64Encode(identity->encryption.secret_key.bytes())), std::string::npos);
}

TEST_F(HcctlKeygenTest, SecondKeygenWithoutForceFails) {
  const std::string path = Path("k");
  ASSERT_EQ(Keygen({"--out", path}).exit_code, 0);
  const auto before = crypto::LoadIdentity(path);
  ASSERT_TRUE(before.ok());

  const ProcessResult again = Keygen({"--out", path});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
  EXPECT_NE(again.err.find("--force"), std::string::npos) << again.err;
  EXPECT_EQ(crypto::LoadIdentity(path)->signing.public_key, before->signing.public_key);

  const ProcessResult forced = Keygen({"--out", path, "--force"});
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  const auto after = crypto::LoadIdentity(path);
  ASSERT_TRUE(after.ok());
  EXPECT_NE(after->signing.public_key, before->signing.public_key);
}

TEST_F(HcctlKeygenTest, MissingDirectoryFailsClearly) {
  const std::string path = Path("no/such/dir/k");
  const ProcessResult r = Keygen({"--out", path});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(path), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST_F(HcctlKeygenTest, MissingOutFlagIsAUsageError) {
  const ProcessResult r = Keygen({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--out"), std::string::npos) << r.err;
}

TEST_F(HcctlKeygenTest, PublicExport) {
  const std::string path = Path("k");
  const std::string pub_path = Path("k.pub.json");
  const ProcessResult r = Keygen({"--out", path, "--public-out", pub_path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto identity = crypto::LoadIdentity(path);
  auto pub = crypto::LoadPublicIdentity(pub_path);
  ASSERT_TRUE(identity.ok());
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  EXPECT_EQ(pub->signing_key, identity->signing.public_key);
  EXPECT_EQ(pub->encryption_key, identity->encryption.public_key);
  struct stat st;
  ASSERT_EQ(::stat(pub_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);

  EXPECT_EQ(Keygen({"--out", path, "--public-out", path, "--force"}).exit_code, 2);
}

// An operator makes a node's TLS key on its own machine and sends only the pin for genesis.
TEST_F(HcctlKeygenTest, TlsKeygenWritesAPrivateKeyAndPrintsThePinOfTheCertificate) {
  const std::string key = Path("tls.key.pem");
  const std::string cert = Path("tls.crt.pem");
  const ProcessResult r =
      RunProcess({HCCTL_PATH, "tls-keygen", "--key-out", key, "--cert-out", cert, "--name", "v0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Mode(key), 0600u);
  auto tls = crypto::LoadTlsIdentity(key, cert);
  ASSERT_TRUE(tls.ok()) << tls.status().ToString();
  EXPECT_EQ(Field(r.out, "tls_key_pin"), Base64Encode(tls->pin()));
  // No silent overwrite.
  const ProcessResult again =
      RunProcess({HCCTL_PATH, "tls-keygen", "--key-out", key, "--cert-out", cert, "--name", "v0"});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("--force"), std::string::npos) << again.err;
}

}  // namespace
}  // namespace hc::cli
