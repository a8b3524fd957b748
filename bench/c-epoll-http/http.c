/* Reference server for scripts/bench-compare --http: a minimal single-threaded epoll
 * HTTP/1.1 static file server. Edge-triggered; keep-alive (HTTP/1.1 unless "Connection:
 * close", HTTP/1.0 only with "Connection: keep-alive"); pipelined requests are answered in
 * order, one response at a time. GET and HEAD of a regular file under DIR: openat + fstat,
 * the head sent with MSG_MORE so it shares a segment with the body, the body with
 * sendfile. Anything else gets 404, a malformed request 400 and a close.
 * Usage: http PORT DIR (port 0 picks a free port); prints "listening on tcp://127.0.0.1:PORT". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define IN 8192 /* longest request head; a longer one closes the connection */

struct conn {
    int fd, file;     /* file: the body being sent, -1 when none */
    off_t foff;       /* sendfile's position in it */
    size_t fleft;     /* body bytes still to send */
    char head[320];   /* the response head being sent */
    size_t hoff, hlen;
    int close_after;  /* close once the response in flight is sent */
    size_t inlen;     /* request bytes buffered */
    char in[IN];
};

static int dirfd_root;

static void drop_conn(struct conn *c) {
    if (c->file >= 0) close(c->file);
    close(c->fd);
    free(c);
}

/* Sends what is pending; 1 when all of it went, 0 when the peer is full, -1 on error. */
static int flush_out(struct conn *c) {
    while (c->hoff < c->hlen) {
        ssize_t n = send(c->fd, c->head + c->hoff, c->hlen - c->hoff,
                         MSG_NOSIGNAL | (c->fleft ? MSG_MORE : 0));
        if (n > 0) { c->hoff += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        return (n < 0 && errno == EAGAIN) ? 0 : -1;
    }
    while (c->fleft) {
        ssize_t n = sendfile(c->fd, c->file, &c->foff, c->fleft);
        if (n > 0) { c->fleft -= (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        return (n < 0 && errno == EAGAIN) ? 0 : -1;
    }
    if (c->file >= 0) { close(c->file); c->file = -1; }
    return 1;
}

static void respond_status(struct conn *c, const char *status, int keep) {
    const char *body = strcmp(status, "404 Not Found") == 0 ? "not found\n" : "bad request\n";
    c->hlen = (size_t)snprintf(c->head, sizeof c->head,
        "HTTP/1.1 %s\r\nServer: c-epoll-http\r\nContent-Type: text/plain\r\n"
        "Content-Length: %zu\r\nConnection: %s\r\n\r\n%s",
        status, strlen(body), keep ? "keep-alive" : "close", body);
    c->hoff = 0;
    c->close_after = !keep;
}

/* Answers the request whose head is c->in[0..len) (it ends with CRLF CRLF). */
static void handle(struct conn *c, size_t len) {
    char *req = c->in, *sp, *path, *version;
    c->in[len - 1] = '\0'; /* the head becomes a C string (its last '\n' is not needed) */
    int head_only = strncmp(req, "HEAD ", 5) == 0;
    if (strncmp(req, "GET ", 4) != 0 && !head_only) { respond_status(c, "400 Bad Request", 0); return; }
    path = req + (head_only ? 5 : 4);
    if (!(sp = strchr(path, ' ')) || strncmp(sp + 1, "HTTP/1.", 7) != 0) {
        respond_status(c, "400 Bad Request", 0);
        return;
    }
    *sp = '\0';
    version = sp + 1;
    int keep = version[7] == '1';
    char *conn = strcasestr(version, "\r\nConnection:");
    if (conn) {
        conn += 13;
        while (*conn == ' ' || *conn == '\t') conn++;
        if (strncasecmp(conn, "close", 5) == 0) keep = 0;
        else if (strncasecmp(conn, "keep-alive", 10) == 0) keep = 1;
    }
    char *query = strchr(path, '?');
    if (query) *query = '\0';
    /* No "..", no directories: only files under DIR. */
    int fd = -1;
    struct stat st;
    if (path[0] == '/' && path[1] && !strstr(path, ".."))
        fd = openat(dirfd_root, path + 1, O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) { close(fd); fd = -1; }
    if (fd < 0) { respond_status(c, "404 Not Found", keep); return; }
    c->hlen = (size_t)snprintf(c->head, sizeof c->head,
        "HTTP/1.1 200 OK\r\nServer: c-epoll-http\r\nContent-Type: application/octet-stream\r\n"
        "Content-Length: %lld\r\nConnection: %s\r\n\r\n",
        (long long)st.st_size, keep ? "keep-alive" : "close");
    c->hoff = 0;
    c->close_after = !keep;
    if (head_only || st.st_size == 0) { close(fd); return; }
    c->file = fd;
    c->foff = 0;
    c->fleft = (size_t)st.st_size;
}

/* Sends what is pending, then answers buffered requests and reads more, until the socket
 * is drained (edge-triggered) or the peer stops taking bytes. */
static void serve(struct conn *c) {
    for (;;) {
        int r = flush_out(c);
        if (r < 0) { drop_conn(c); return; }
        if (r == 0) return; /* wait for EPOLLOUT */
        if (c->close_after) { drop_conn(c); return; }
        char *end = memmem(c->in, c->inlen, "\r\n\r\n", 4);
        if (end) {
            size_t len = (size_t)(end + 4 - c->in);
            handle(c, len);
            c->inlen -= len;
            memmove(c->in, c->in + len, c->inlen);
            continue;
        }
        if (c->inlen == IN) { drop_conn(c); return; }
        ssize_t n = read(c->fd, c->in + c->inlen, IN - c->inlen);
        if (n > 0) { c->inlen += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        drop_conn(c);
        return;
    }
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 0, one = 1;
    const char *dir = argc > 2 ? argv[2] : ".";
    signal(SIGPIPE, SIG_IGN);
    if ((dirfd_root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) { perror(dir); return 1; }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
    socklen_t alen = sizeof addr;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, SOMAXCONN) < 0) {
        perror("http: bind/listen"); return 1;
    }
    getsockname(lfd, (struct sockaddr *)&addr, &alen);
    int ep = epoll_create1(0);
    struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
    fprintf(stderr, "listening on tcp://127.0.0.1:%d\n", ntohs(addr.sin_port));

    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0 && errno != EINTR) { perror("http: epoll_wait"); return 1; }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr) { serve(evs[i].data.ptr); continue; }
            int fd;
            while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                struct conn *c = malloc(sizeof *c);
                if (!c) { close(fd); continue; }
                c->fd = fd; c->file = -1; c->fleft = c->hoff = c->hlen = c->inlen = 0;
                c->close_after = 0;
                /* The last segment of a response goes at once; MSG_MORE groups the rest. */
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                /* Both directions, once: with edge triggering an idle EPOLLOUT costs nothing. */
                struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c };
                epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
            }
        }
    }
}
