/* fairflow's bind shim (LD_PRELOAD): a task's processes listen on the task's own loopback address.
 *
 * On ECS (awsvpc) every task has its own network namespace, so two tasks can both listen on 0.0.0.0:8080.
 * Here every task shares the host's, but each has its own address in 127.0.0.0/8 (the twin of its private
 * IP). This shim rewrites bind():
 *   AF_INET  0.0.0.0 or 127.0.0.1          -> FAIRFLOW_TASK_ADDR (e.g. 127.0.2.37)
 *   AF_INET6 :: or ::1 or ::ffff:127.0.0.1 -> ::ffff:FAIRFLOW_TASK_ADDR on a dual-stack socket; on a
 *                                             socket set IPV6_V6ONLY a wildcard gets a free port on ::1
 *                                             (the task has no IPv6 address)
 *   AF_INET  FAIRFLOW_TASK_PRIVATE_ADDR (the task's own private IP, e.g. 10.0.2.37) -> FAIRFLOW_TASK_ADDR
 * and connect() to a private IPv4 address (10/8, 172.16/12, 192.168/16, also v4-mapped in AF_INET6)
 * dials its loopback twin 127.b.c.d instead, so an address AWS reports (DescribeTasks, a target's IP)
 * is reachable from inside a task as it is inside a VPC; connect() to 127.0.0.1 or ::1 dials the task's own
 * address (localhost is the task, as in its network namespace), except for the ports in
 * FAIRFLOW_HOST_PORTS ("5123,40211": the local AWS endpoint and the credentials endpoint, which are the
 * host's).
 * Any other address is left as it is. Without FAIRFLOW_TASK_ADDR the shim does nothing.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/socket.h>

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

static struct in_addr task_addr, task_private;
static int have_addr = -1, have_private = 0;
static unsigned short host_ports[16];
static int n_host_ports = 0;

static int load_addr(void) {
    if (have_addr < 0) {
        const char *s = getenv("FAIRFLOW_TASK_ADDR");
        const char *p = getenv("FAIRFLOW_TASK_PRIVATE_ADDR");
        have_private = (p && inet_pton(AF_INET, p, &task_private) == 1) ? 1 : 0;
        const char *hp = getenv("FAIRFLOW_HOST_PORTS");
        while (hp && *hp && n_host_ports < 16) {
            char *end;
            long v = strtol(hp, &end, 10);
            if (end == hp)
                break;
            if (v > 0 && v < 65536)
                host_ports[n_host_ports++] = (unsigned short)v;
            hp = (*end == ',') ? end + 1 : end;
        }
        have_addr = (s && inet_pton(AF_INET, s, &task_addr) == 1) ? 1 : 0;
    }
    return have_addr;
}

/* 10.b.c.d / 172.16-31.c.d / 192.168.c.d -> 127.b.c.d (network byte order in and out); 0 if not private */
static int twin_of(uint32_t be, uint32_t *out) {
    uint32_t h = ntohl(be);
    if ((h >> 24) == 10 || (h >> 20) == ((172u << 4) | 1u) || (h >> 16) == ((192u << 8) | 168u)) {
        *out = htonl((127u << 24) | (h & 0x00ffffffu));
        return 1;
    }
    return 0;
}

static int is_host_port(unsigned short port_be) {
    unsigned short p = ntohs(port_be);
    for (int i = 0; i < n_host_ports; i++)
        if (host_ports[i] == p)
            return 1;
    return 0;
}

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);

int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    static connect_fn real = 0;
    uint32_t t;
    if (!real)
        real = (connect_fn)dlsym(RTLD_NEXT, "connect");
    if (!addr || !load_addr())
        return real(fd, addr, len);
    if (addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        if (in->sin_addr.s_addr == htonl(INADDR_LOOPBACK) && !is_host_port(in->sin_port)) {
            struct sockaddr_in copy = *in;
            copy.sin_addr = task_addr;
            return real(fd, (const struct sockaddr *)&copy, sizeof copy);
        }
        if (twin_of(in->sin_addr.s_addr, &t)) {
            struct sockaddr_in copy = *in;
            copy.sin_addr.s_addr = t;
            return real(fd, (const struct sockaddr *)&copy, sizeof copy);
        }
    } else if (addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
        uint32_t v4;
        static const unsigned char mapped_lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
        if ((IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) || memcmp(&in6->sin6_addr, mapped_lo, 16) == 0) &&
            !is_host_port(in6->sin6_port)) {
            struct sockaddr_in6 copy = *in6;
            memset(&copy.sin6_addr, 0, sizeof copy.sin6_addr);
            copy.sin6_addr.s6_addr[10] = 0xff;
            copy.sin6_addr.s6_addr[11] = 0xff;
            memcpy(&copy.sin6_addr.s6_addr[12], &task_addr, 4);
            return real(fd, (const struct sockaddr *)&copy, sizeof copy);
        }
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            memcpy(&v4, &in6->sin6_addr.s6_addr[12], 4);
            if (twin_of(v4, &t)) {
                struct sockaddr_in6 copy = *in6;
                memcpy(&copy.sin6_addr.s6_addr[12], &t, 4);
                return real(fd, (const struct sockaddr *)&copy, sizeof copy);
            }
        }
    }
    return real(fd, addr, len);
}

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    static bind_fn real = 0;
    if (!real)
        real = (bind_fn)dlsym(RTLD_NEXT, "bind");
    if (!addr || !load_addr())
        return real(fd, addr, len);
    if (addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        if (in->sin_addr.s_addr == htonl(INADDR_ANY) || in->sin_addr.s_addr == htonl(INADDR_LOOPBACK) ||
            (have_private && in->sin_addr.s_addr == task_private.s_addr)) {
            struct sockaddr_in copy = *in;
            copy.sin_addr = task_addr;
            return real(fd, (const struct sockaddr *)&copy, sizeof copy);
        }
    } else if (addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
        static const unsigned char mapped_lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
        if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr) || IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
            memcmp(&in6->sin6_addr, mapped_lo, 16) == 0) {
            struct sockaddr_in6 copy = *in6;
            int v6only = 0;
            socklen_t optlen = sizeof v6only;
            /* A socket the program made IPv6-only (e.g. redis' "::*" beside its "*") has no IPv6 address
             * to get here: say so, as a host without IPv6 would; a dual-stack one gets the task's v4. */
            if (getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &optlen) != 0 || v6only) {
                /* An IPv6-only wildcard beside its IPv4 twin (asyncio's create_server(host=""), as uvicorn
                 * and Airflow's log server use it; redis' "::*"): the task's IPv4 address is taken by the
                 * twin, and the host's only IPv6 loopback is shared by every task. Give it a port of its own
                 * on ::1 (no one dials it), as a task with an unused IPv6 interface would have; without
                 * IPv6 on the host, say so as such a host would. */
                if (!IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr)) {
                    errno = EADDRNOTAVAIL;
                    return -1;
                }
                memset(&copy.sin6_addr, 0, sizeof copy.sin6_addr);
                copy.sin6_addr.s6_addr[15] = 1;
                copy.sin6_port = 0;
                copy.sin6_scope_id = 0;
                if (real(fd, (const struct sockaddr *)&copy, sizeof copy) == 0) return 0;
                errno = EADDRNOTAVAIL;
                return -1;
            }
            memset(&copy.sin6_addr, 0, sizeof copy.sin6_addr);
            copy.sin6_addr.s6_addr[10] = 0xff;
            copy.sin6_addr.s6_addr[11] = 0xff;
            memcpy(&copy.sin6_addr.s6_addr[12], &task_addr, 4);
            copy.sin6_scope_id = 0;
            return real(fd, (const struct sockaddr *)&copy, sizeof copy);
        }
    }
    return real(fd, addr, len);
}
