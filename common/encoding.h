// Hex and base64 codecs (base64 is the standard alphabet with padding, RFC 4648 §4).
// Decoders are strict: any character outside the alphabet, bad padding or a trailing byte is an
// InvalidArgument naming the problem.
#pragma once

#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/status.h"

namespace hc {

std::string HexEncode(ByteView data);           // lower case
Result<Bytes> HexDecode(std::string_view hex);  // accepts upper and lower case

std::string Base64Encode(ByteView data);
Result<Bytes> Base64Decode(std::string_view b64);

// Decodes base64 that must be exactly `size` bytes (keys, hashes, signatures).
Result<Bytes> Base64DecodeSized(std::string_view b64, size_t size, std::string_view what);

}  // namespace hc
