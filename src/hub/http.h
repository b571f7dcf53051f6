// A small libcurl wrapper for the hub client: one request at a time, headers captured, bodies to
// a string (bounded) or appended to a file (for resumable downloads).
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace attnscope::hub::detail {

struct HttpRequest {
  std::string url;
  std::string token;  // bearer token; libcurl keeps it to the original host on redirects
  bool head = false;
  bool follow_redirects = true;
  uint64_t range_from = 0;  // > 0: ask for bytes from here on ("Range: bytes=N-")
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // of the final response, names lower-cased
  std::string body;                            // string requests only
  std::string effective_url;
  // Transport failure (no response at all, or the transfer broke off).
  bool transport_error = false;
  bool unreachable = false;  // could not resolve / connect: the "no network" case
  std::string error;         // libcurl's description
  uint64_t bytes = 0;        // body bytes received
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// Body into response.body (at most max_body bytes; more is a transport error).
HttpResponse http_fetch(const HttpRequest& req, uint64_t max_body = 64ull << 20);
// Body appended to the open file `path` (created if needed) when the status is 200 or 206;
// `progress_label` non-empty draws a progress bar on stderr (the caller decides about TTYs).
// On 200 with range_from > 0 the file is truncated first (the server ignored the range).
HttpResponse http_download(const HttpRequest& req, const std::string& path, const std::string& progress_label,
                           uint64_t expected_total);

}  // namespace attnscope::hub::detail
