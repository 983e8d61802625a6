#ifndef FAIRSHIM_H
#define FAIRSHIM_H
#include <curl/curl.h>
#include <libssh2.h>
#include <stddef.h>

/* libcurl: one non-variadic function per curl_easy_setopt / getinfo argument type. */
typedef size_t (*fs_data_cb)(char *ptr, size_t size, size_t nmemb, void *userdata);
CURLcode fs_curl_setopt_long(CURL *h, CURLoption opt, long v);
CURLcode fs_curl_setopt_str(CURL *h, CURLoption opt, const char *v);
CURLcode fs_curl_setopt_ptr(CURL *h, CURLoption opt, void *v);
CURLcode fs_curl_setopt_off(CURL *h, CURLoption opt, curl_off_t v);
CURLcode fs_curl_setopt_write(CURL *h, fs_data_cb cb, void *userdata);
CURLcode fs_curl_setopt_header(CURL *h, fs_data_cb cb, void *userdata);
CURLcode fs_curl_setopt_read(CURL *h, fs_data_cb cb, void *userdata);
CURLcode fs_curl_getinfo_long(CURL *h, CURLINFO info, long *out);
CURLcode fs_curl_getinfo_str(CURL *h, CURLINFO info, char **out);

/* libssh2: its convenience calls are macros; these are plain functions. */
LIBSSH2_SESSION *fs_ssh_session_init(void);
LIBSSH2_CHANNEL *fs_ssh_channel_open_session(LIBSSH2_SESSION *s);
int fs_ssh_channel_exec(LIBSSH2_CHANNEL *ch, const char *cmd);
ssize_t fs_ssh_channel_read(LIBSSH2_CHANNEL *ch, int stream, char *buf, size_t n);
ssize_t fs_ssh_channel_write(LIBSSH2_CHANNEL *ch, const char *buf, size_t n);
LIBSSH2_CHANNEL *fs_ssh_direct_tcpip(LIBSSH2_SESSION *s, const char *host, int port);
int fs_ssh_disconnect(LIBSSH2_SESSION *s, const char *reason);
unsigned int fs_ssh_window_default(void);
#endif
