#include "crypto/merkle_json.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>

#include "common/encoding.h"

namespace hc::crypto {
namespace {

namespace json = boost::json;

Status FieldError(std::string_view field, std::string_view problem) {
  return InvalidArgument("field \"" + std::string(field) + "\": " + std::string(problem));
}

// The document's top-level object, parsed without exceptions (Boost.JSON's error_code overload).
Result<json::object> ParseObject(std::string_view text) {
  if (text.size() > kProofJsonBytesMax) {
    return InvalidArgument("document is " + std::to_string(text.size()) + " bytes, larger than " +
                           std::to_string(kProofJsonBytesMax));
  }
  boost::system::error_code ec;
  json::value value = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec) return InvalidArgument("not JSON: " + ec.message());
  json::object* object = value.if_object();
  if (object == nullptr) return InvalidArgument("not a JSON object");
  return std::move(*object);
}

Result<const json::value*> Field(const json::object& object, std::string_view name) {
  const json::value* value = object.if_contains(json::string_view(name.data(), name.size()));
  if (value == nullptr) return InvalidArgument("missing field \"" + std::string(name) + "\"");
  return value;
}

Result<uint64_t> Uint64Field(const json::object& object, std::string_view name) {
  HC_ASSIGN_OR_RETURN(const json::value* value, Field(object, name));
  // Boost.JSON keeps integers up to INT64_MAX as int64 and larger ones as uint64; anything else
  // (negative, fractional, exponent, string) is not a size or an index.
  if (value->is_uint64()) return value->get_uint64();
  if (value->is_int64() && value->get_int64() >= 0)
    return static_cast<uint64_t>(value->get_int64());
  return FieldError(name, "expected a non-negative integer");
}

Result<Bytes> DecodeBase64Value(const json::value& value, std::string_view name) {
  const json::string* s = value.if_string();
  if (s == nullptr) return FieldError(name, "expected a base64 string");
  Result<Bytes> bytes = Base64Decode(std::string_view(s->data(), s->size()));
  if (!bytes.ok()) return FieldError(name, bytes.status().message());
  return bytes;
}

Result<Bytes> Base64Field(const json::object& object, std::string_view name) {
  HC_ASSIGN_OR_RETURN(const json::value* value, Field(object, name));
  return DecodeBase64Value(*value, name);
}

Result<std::vector<Bytes>> ProofField(const json::object& object) {
  HC_ASSIGN_OR_RETURN(const json::value* value, Field(object, "proof"));
  std::vector<Bytes> proof;
  // The public vectors write an empty proof as null (Go's encoding of a nil slice).
  if (value->is_null()) return proof;
  const json::array* array = value->if_array();
  if (array == nullptr) return FieldError("proof", "expected an array of base64 strings or null");
  proof.reserve(array->size());
  for (size_t i = 0; i < array->size(); ++i) {
    HC_ASSIGN_OR_RETURN(Bytes hash,
                        DecodeBase64Value((*array)[i], "proof[" + std::to_string(i) + "]"));
    proof.push_back(std::move(hash));
  }
  return proof;
}

json::string Base64Json(ByteView bytes) {
  const std::string b64 = Base64Encode(bytes);
  return json::string(b64.data(), b64.size());
}

json::array ProofJson(const std::vector<Bytes>& proof) {
  json::array array;
  array.reserve(proof.size());
  for (const Bytes& hash : proof) array.emplace_back(Base64Json(hash));
  return array;
}

std::vector<Bytes> ProofBytes(std::span<const Hash32> proof) {
  std::vector<Bytes> out;
  out.reserve(proof.size());
  for (const Hash32& hash : proof) out.emplace_back(hash.begin(), hash.end());
  return out;
}

}  // namespace

InclusionProofDoc MakeInclusionProofDoc(uint64_t leaf_index, uint64_t tree_size,
                                        const Hash32& leaf_hash, std::span<const Hash32> proof,
                                        const Hash32& root) {
  InclusionProofDoc doc;
  doc.leaf_index = leaf_index;
  doc.tree_size = tree_size;
  doc.root.assign(root.begin(), root.end());
  doc.leaf_hash.assign(leaf_hash.begin(), leaf_hash.end());
  doc.proof = ProofBytes(proof);
  return doc;
}

ConsistencyProofDoc MakeConsistencyProofDoc(uint64_t size1, uint64_t size2, const Hash32& root1,
                                            const Hash32& root2, std::span<const Hash32> proof) {
  ConsistencyProofDoc doc;
  doc.size1 = size1;
  doc.size2 = size2;
  doc.root1.assign(root1.begin(), root1.end());
  doc.root2.assign(root2.begin(), root2.end());
  doc.proof = ProofBytes(proof);
  return doc;
}

Result<InclusionProofDoc> DecodeInclusionProofJson(std::string_view text) {
  HC_ASSIGN_OR_RETURN(json::object object, ParseObject(text));
  InclusionProofDoc doc;
  HC_ASSIGN_OR_RETURN(doc.leaf_index, Uint64Field(object, "leafIdx"));
  HC_ASSIGN_OR_RETURN(doc.tree_size, Uint64Field(object, "treeSize"));
  HC_ASSIGN_OR_RETURN(doc.root, Base64Field(object, "root"));
  HC_ASSIGN_OR_RETURN(doc.leaf_hash, Base64Field(object, "leafHash"));
  HC_ASSIGN_OR_RETURN(doc.proof, ProofField(object));
  return doc;
}

Result<ConsistencyProofDoc> DecodeConsistencyProofJson(std::string_view text) {
  HC_ASSIGN_OR_RETURN(json::object object, ParseObject(text));
  ConsistencyProofDoc doc;
  HC_ASSIGN_OR_RETURN(doc.size1, Uint64Field(object, "size1"));
  HC_ASSIGN_OR_RETURN(doc.size2, Uint64Field(object, "size2"));
  HC_ASSIGN_OR_RETURN(doc.root1, Base64Field(object, "root1"));
  HC_ASSIGN_OR_RETURN(doc.root2, Base64Field(object, "root2"));
  HC_ASSIGN_OR_RETURN(doc.proof, ProofField(object));
  return doc;
}

std::string EncodeInclusionProofJson(const InclusionProofDoc& doc) {
  json::object object;
  object["leafIdx"] = doc.leaf_index;
  object["treeSize"] = doc.tree_size;
  object["root"] = Base64Json(doc.root);
  object["leafHash"] = Base64Json(doc.leaf_hash);
  object["proof"] = ProofJson(doc.proof);
  return json::serialize(object);
}

std::string EncodeConsistencyProofJson(const ConsistencyProofDoc& doc) {
  json::object object;
  object["size1"] = doc.size1;
  object["size2"] = doc.size2;
  object["root1"] = Base64Json(doc.root1);
  object["root2"] = Base64Json(doc.root2);
  object["proof"] = ProofJson(doc.proof);
  return json::serialize(object);
}

Status VerifyInclusionProofDoc(const InclusionProofDoc& doc) {
  return VerifyInclusion(doc.leaf_index, doc.tree_size, doc.leaf_hash, doc.proof, doc.root);
}

Status VerifyConsistencyProofDoc(const ConsistencyProofDoc& doc) {
  return VerifyConsistency(doc.size1, doc.size2, doc.root1, doc.root2, doc.proof);
}

}  // namespace hc::crypto
