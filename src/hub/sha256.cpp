// SHA-256 (FIPS 180-4) through OpenSSL's libcrypto (libcurl already links it), used to check the
// LFS files the hub names by their digest.
#include <openssl/evp.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <memory>
#include <vector>

#include "attnscope/error.h"
#include "attnscope/hub.h"

namespace attnscope::hub {
namespace {

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1)
      fail(ErrorKind::Io, "sha256: libcrypto could not start a digest");
  }
  void update(const void* p, size_t n) {
    if (n > 0 && EVP_DigestUpdate(ctx_.get(), p, n) != 1) fail(ErrorKind::Io, "sha256: libcrypto digest failed");
  }
  std::string hex() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), digest.data(), &len) != 1)
      fail(ErrorKind::Io, "sha256: libcrypto digest failed");
    std::string out;
    char byte[3];
    for (unsigned int i = 0; i < len; ++i) {
      std::snprintf(byte, sizeof byte, "%02x", digest[i]);
      out += byte;
    }
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx_;
};

}  // namespace

std::string sha256_hex(const void* data, size_t n) {
  Sha256 h;
  h.update(data, n);
  return h.hex();
}

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorKind::Io, "cannot read " + path + " to check its sha256");
  Sha256 h;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h.update(buf.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) fail(ErrorKind::Io, "reading " + path + " to check its sha256 failed");
  return h.hex();
}

}  // namespace attnscope::hub
