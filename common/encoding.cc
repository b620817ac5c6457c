#include "common/encoding.h"

#include <sodium.h>

#include "common/assert.h"

namespace hc {

Hash32 ToHash32(ByteView b) {
  HC_ASSERT_EQ(b.size(), size_t{32});
  Hash32 h;
  std::memcpy(h.data(), b.data(), 32);
  return h;
}

std::string HexEncode(ByteView data) {
  std::string out(data.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data.data(), data.size());
  out.pop_back();
  return out;
}

Result<Bytes> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return InvalidArgument("hex: odd number of digits");
  if (hex.empty()) return Bytes{};  // libsodium must not see a null output buffer
  Bytes out(hex.size() / 2);
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(out.data(), out.size(), hex.data(), hex.size(), nullptr, &len, &end) != 0 ||
      end != hex.data() + hex.size() || len != out.size()) {
    return InvalidArgument("hex: invalid digit at offset " +
                           std::to_string(end ? end - hex.data() : 0));
  }
  return out;
}

std::string Base64Encode(ByteView data) {
  const int variant = sodium_base64_VARIANT_ORIGINAL;
  std::string out(sodium_base64_encoded_len(data.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), data.data(), data.size(), variant);
  out.pop_back();  // sodium writes a terminating NUL
  return out;
}

Result<Bytes> Base64Decode(std::string_view b64) {
  if (b64.size() % 4 != 0) return InvalidArgument("base64: length is not a multiple of 4");
  if (b64.empty()) return Bytes{};  // libsodium must not see a null output buffer
  Bytes out(b64.size() / 4 * 3);
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), b64.data(), b64.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != b64.data() + b64.size()) {
    return InvalidArgument("base64: invalid character or padding at offset " +
                           std::to_string(end ? end - b64.data() : 0));
  }
  out.resize(len);
  // Reject non-canonical encodings (non-zero bits in the last symbol) by re-encoding.
  if (Base64Encode(out) != b64) return InvalidArgument("base64: non-canonical encoding");
  return out;
}

Result<Bytes> Base64DecodeSized(std::string_view b64, size_t size, std::string_view what) {
  auto r = Base64Decode(b64);
  if (!r.ok()) return r.status().WithContext(what);
  if (r->size() != size) {
    return InvalidArgument(std::string(what) + ": expected " + std::to_string(size) +
                           " bytes, got " + std::to_string(r->size()));
  }
  return r;
}

}  // namespace hc
