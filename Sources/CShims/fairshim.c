#include "fairshim.h"

CURLcode fs_curl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
CURLcode fs_curl_setopt_str(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
CURLcode fs_curl_setopt_ptr(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
CURLcode fs_curl_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
CURLcode fs_curl_setopt_write(CURL *h, fs_data_cb cb, void *ud) {
    CURLcode rc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, cb);
    return rc != CURLE_OK ? rc : curl_easy_setopt(h, CURLOPT_WRITEDATA, ud);
}
CURLcode fs_curl_setopt_header(CURL *h, fs_data_cb cb, void *ud) {
    CURLcode rc = curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, cb);
    return rc != CURLE_OK ? rc : curl_easy_setopt(h, CURLOPT_HEADERDATA, ud);
}
CURLcode fs_curl_setopt_read(CURL *h, fs_data_cb cb, void *ud) {
    CURLcode rc = curl_easy_setopt(h, CURLOPT_READFUNCTION, cb);
    return rc != CURLE_OK ? rc : curl_easy_setopt(h, CURLOPT_READDATA, ud);
}
CURLcode fs_curl_getinfo_long(CURL *h, CURLINFO i, long *out) { return curl_easy_getinfo(h, i, out); }
CURLcode fs_curl_getinfo_str(CURL *h, CURLINFO i, char **out) { return curl_easy_getinfo(h, i, out); }

LIBSSH2_SESSION *fs_ssh_session_init(void) { return libssh2_session_init(); }
LIBSSH2_CHANNEL *fs_ssh_channel_open_session(LIBSSH2_SESSION *s) { return libssh2_channel_open_session(s); }
int fs_ssh_channel_exec(LIBSSH2_CHANNEL *ch, const char *cmd) { return libssh2_channel_exec(ch, cmd); }
ssize_t fs_ssh_channel_read(LIBSSH2_CHANNEL *ch, int stream, char *buf, size_t n) {
    return libssh2_channel_read_ex(ch, stream, buf, n);
}
ssize_t fs_ssh_channel_write(LIBSSH2_CHANNEL *ch, const char *buf, size_t n) { return libssh2_channel_write(ch, buf, n); }
LIBSSH2_CHANNEL *fs_ssh_direct_tcpip(LIBSSH2_SESSION *s, const char *host, int port) {
    return libssh2_channel_direct_tcpip(s, host, port);
}
int fs_ssh_disconnect(LIBSSH2_SESSION *s, const char *reason) { return libssh2_session_disconnect(s, reason); }
unsigned int fs_ssh_window_default(void) { return LIBSSH2_CHANNEL_WINDOW_DEFAULT; }
