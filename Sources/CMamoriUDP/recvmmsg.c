#include <stddef.h>
#include "CMamoriUDP.h"

#ifdef __linux__
_Static_assert(sizeof(mamori_mmsghdr) == sizeof(struct mmsghdr), "mamori_mmsghdr must match struct mmsghdr");

int mamori_recvmmsg(int fd, mamori_mmsghdr *messages, unsigned int count, int flags) {
    return recvmmsg(fd, (struct mmsghdr *)messages, count, flags, NULL);
}
#endif
