// libcurl's easy interface, with the variadic curl_easy_setopt/getinfo wrapped per argument
// type so Swift can call them.
#ifndef SLIPWAY_CCURL_H
#define SLIPWAY_CCURL_H
#include <curl/curl.h>

typedef size_t (*slipway_curl_data_cb)(char *data, size_t size, size_t count, void *context);
typedef int (*slipway_curl_progress_cb)(void *context, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);

static inline CURLcode slipway_curl_set_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode slipway_curl_set_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode slipway_curl_set_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode slipway_curl_set_offset(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode slipway_curl_set_data_callback(CURL *h, CURLoption o, slipway_curl_data_cb cb) { return curl_easy_setopt(h, o, cb); }
static inline CURLcode slipway_curl_set_progress_callback(CURL *h, slipway_curl_progress_cb cb) {
    return curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, cb);
}
static inline CURLcode slipway_curl_set_blob(CURL *h, CURLoption o, const void *data, size_t length) {
    struct curl_blob blob = { (void *)data, length, CURL_BLOB_COPY };
    return curl_easy_setopt(h, o, &blob);
}
static inline long slipway_curl_response_code(CURL *h) {
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    return code;
}
#endif
