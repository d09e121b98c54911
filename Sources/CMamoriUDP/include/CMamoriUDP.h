// recvmmsg(2) for Swift. It is a GNU extension: glibc declares it (and struct mmsghdr) only
// under _GNU_SOURCE, which Swift's Glibc module is not built with, so Mamori declares a
// layout-identical struct here and calls recvmmsg from C (as SwiftNIO's CNIOLinux does).
#ifndef C_MAMORI_UDP_H
#define C_MAMORI_UDP_H

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>

typedef struct {
    struct msghdr msg_hdr;
    unsigned int msg_len;
} mamori_mmsghdr;

/// Receives up to `count` datagrams without blocking beyond what `flags` allows.
int mamori_recvmmsg(int fd, mamori_mmsghdr *messages, unsigned int count, int flags);

#endif
