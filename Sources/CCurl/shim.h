// libcurl's easy interface, with the variadic curl_easy_setopt/getinfo wrapped per argument
// type so Swift can call them, and what a connect-time address check needs (the address of a
// socket curl is about to open, and opening it).
#ifndef SLIPWAY_CCURL_H
#define SLIPWAY_CCURL_H
#include <curl/curl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

typedef size_t (*slipway_curl_data_cb)(char *data, size_t size, size_t count, void *context);
typedef int (*slipway_curl_progress_cb)(void *context, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow);

typedef curl_socket_t (*slipway_curl_opensocket_cb)(void *context, curlsocktype purpose, struct curl_sockaddr *address);

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
static inline CURLcode slipway_curl_set_opensocket_callback(CURL *h, slipway_curl_opensocket_cb cb) {
    return curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, cb);
}
/* The IP address a connection is about to be opened to (after name resolution): its 4 or 16
   bytes into `bytes`, their count returned (0 for a family other than IPv4 and IPv6), and its
   port. */
static inline int slipway_curl_sockaddr_ip(const struct curl_sockaddr *a, unsigned char bytes[16], unsigned short *port) {
    if (a->family == AF_INET && a->addrlen >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&a->addr;
        memcpy(bytes, &in->sin_addr, 4);
        *port = ntohs(in->sin_port);
        return 4;
    }
    if (a->family == AF_INET6 && a->addrlen >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->addr;
        memcpy(bytes, &in6->sin6_addr, 16);
        *port = ntohs(in6->sin6_port);
        return 16;
    }
    return 0;
}
/* The socket curl would open for `a` (as its own opener does), close-on-exec: SOCK_CLOEXEC,
   written as its value. A glibc macro this header used became the CCurl module's in a clean
   build, and Swift files that do not import CCurl no longer found SOCK_CLOEXEC. */
#define SLIPWAY_SOCK_CLOEXEC 02000000
static inline curl_socket_t slipway_curl_open_socket(const struct curl_sockaddr *a) {
    return socket(a->family, a->socktype | SLIPWAY_SOCK_CLOEXEC, a->protocol);
}
static inline long slipway_curl_response_code(CURL *h) {
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    return code;
}
#endif
