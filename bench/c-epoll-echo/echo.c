/* Reference server for scripts/bench-compare: a minimal single-threaded epoll echo loop.
 * Non-blocking, edge-triggered; bytes a peer cannot take yet are kept per connection and
 * EPOLLOUT is asked for only while some are pending (so reads stop until they drain).
 * Usage: echo PORT (0 picks a free port); prints "listening on tcp://127.0.0.1:PORT". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 65536

/* pending is allocated only while a peer is not taking bytes, so idle conns stay small. */
struct conn { int fd; char *pending; size_t off, len; };

static int ep;
static char buf[BUF]; /* one read buffer for everyone: the loop is single-threaded */

static void drop_conn(struct conn *c) { close(c->fd); free(c->pending); free(c); }

/* Writes data[*off..len]; returns 1 if all of it went, 0 if the peer is full, -1 on error. */
static int flush(int fd, const char *data, size_t *off, size_t len) {
    while (*off < len) {
        ssize_t n = write(fd, data + *off, len - *off);
        if (n > 0) { *off += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        return (n < 0 && errno == EAGAIN) ? 0 : -1;
    }
    return 1;
}

static void watch(struct conn *c, int op, unsigned events) {
    struct epoll_event ev = { .events = events | EPOLLET, .data.ptr = c };
    epoll_ctl(ep, op, c->fd, &ev);
}

/* Reads and echoes until the socket is drained or the peer stops taking bytes. */
static void serve(struct conn *c, unsigned events) {
    if (c->pending) {
        int r = flush(c->fd, c->pending, &c->off, c->len);
        if (r < 0) { drop_conn(c); return; }
        if (r == 0) return;              /* still blocked: wait for the next EPOLLOUT */
        free(c->pending); c->pending = NULL;
        watch(c, EPOLL_CTL_MOD, EPOLLIN); /* drained: back to reading only */
    } else if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        return;
    }
    for (;;) {
        ssize_t n = read(c->fd, buf, BUF);
        if (n == 0) { drop_conn(c); return; }
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return;
            drop_conn(c); return;
        }
        size_t off = 0;
        int r = flush(c->fd, buf, &off, (size_t)n);
        if (r < 0) { drop_conn(c); return; }
        if (r == 0) { /* keep the unsent tail and wait for EPOLLOUT */
            c->len = (size_t)n - off; c->off = 0;
            if (!(c->pending = malloc(c->len))) { drop_conn(c); return; }
            memcpy(c->pending, buf + off, c->len);
            watch(c, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT);
            return;
        }
    }
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 0, one = 1;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
    socklen_t alen = sizeof addr;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, SOMAXCONN) < 0) {
        perror("echo: bind/listen"); return 1;
    }
    getsockname(lfd, (struct sockaddr *)&addr, &alen);
    ep = epoll_create1(0);
    struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
    fprintf(stderr, "listening on tcp://127.0.0.1:%d\n", ntohs(addr.sin_port));

    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0 && errno != EINTR) { perror("echo: epoll_wait"); return 1; }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr) { serve(evs[i].data.ptr, evs[i].events); continue; }
            int fd;
            while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                struct conn *c = malloc(sizeof *c);
                if (!c) { close(fd); continue; }
                c->fd = fd; c->pending = NULL; c->off = c->len = 0;
                watch(c, EPOLL_CTL_ADD, EPOLLIN);
            }
        }
    }
}
