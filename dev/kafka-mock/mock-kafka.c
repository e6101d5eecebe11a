/*
 * A Kafka stand-in for development and tests: librdkafka's in-memory mock
 * cluster (a real Kafka wire-protocol server) with topics created up front,
 * because the mock does not support the CreateTopics admin API.
 *
 * Protocol on stdout: "BOOTSTRAP host:port,...", optionally "CONTROL <port>",
 * then "READY". After that, stdout only carries replies to commands on stdin.
 * Control commands (one per line, one reply line each: OK, OK <data>, ERR <msg>)
 * are read from stdin and, with --control-port, from TCP on 127.0.0.1.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define BROKERS_DEFAULT 3
#define BROKERS_MAX 32
#define REPLICATION_FACTOR_MAX 3
#define TOPICS_MAX 256
#define TOPIC_NAME_LENGTH_MAX 249
#define PARTITIONS_MAX 1024
#define RTT_MS_MAX 60000
#define ERROR_COUNT_MAX 1000
#define LINE_LENGTH_MAX 512
#define REPLY_LENGTH_MAX 512
#define TOKENS_MAX 5
#define CONNECTIONS_MAX 16

typedef struct {
    char name[TOPIC_NAME_LENGTH_MAX + 1];
    int partitions;
} topic_t;

/* All mock API calls and the topic registry are serialized by this mutex. */
static pthread_mutex_t mock_lock = PTHREAD_MUTEX_INITIALIZER;
static rd_kafka_mock_cluster_t *mock_cluster;
static int broker_count = BROKERS_DEFAULT;
static topic_t topics[TOPICS_MAX];
static int topic_count;
static atomic_int connection_count;

static void log_nothing(const rd_kafka_t *rk, int level, const char *facility,
                        const char *message) {
    (void)rk;
    (void)level;
    (void)facility;
    (void)message;
}

static bool parse_long(const char *text, long min, long max, long *out) {
    if (text == NULL || *text == '\0') {
        return false;
    }
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < min || value > max) {
        return false;
    }
    *out = value;
    return true;
}

/* Kafka's legal topic characters; also keeps names safe on a line protocol. */
static bool topic_name_valid(const char *name) {
    size_t length = strlen(name);
    if (length == 0 || length > TOPIC_NAME_LENGTH_MAX || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0) {
        return false;
    }
    for (const char *c = name; *c != '\0'; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

static const topic_t *topic_find(const char *name) {
    for (int i = 0; i < topic_count; i++) {
        if (strcmp(topics[i].name, name) == 0) {
            return &topics[i];
        }
    }
    return NULL;
}

/* Caller holds mock_lock. Writes an error message into reply on failure. */
static bool topic_create(const char *name, int partitions, char *reply, size_t reply_size) {
    if (topic_find(name) != NULL) {
        snprintf(reply, reply_size, "ERR topic %s already exists", name);
        return false;
    }
    if (topic_count == TOPICS_MAX) {
        snprintf(reply, reply_size, "ERR too many topics (max %d)", TOPICS_MAX);
        return false;
    }
    int replication_factor =
        broker_count < REPLICATION_FACTOR_MAX ? broker_count : REPLICATION_FACTOR_MAX;
    rd_kafka_resp_err_t err =
        rd_kafka_mock_topic_create(mock_cluster, name, partitions, replication_factor);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(reply, reply_size, "ERR %s", rd_kafka_err2str(err));
        return false;
    }
    snprintf(topics[topic_count].name, sizeof topics[topic_count].name, "%s", name);
    topics[topic_count].partitions = partitions;
    topic_count++;
    return true;
}

/*
 * "all" maps to -1, which the mock API takes as every broker. The mock would
 * also accept ids of brokers that do not exist for some calls, so check here.
 */
static bool parse_broker(const char *text, bool allow_all, int32_t *out, char *reply,
                         size_t reply_size) {
    long id = 0;
    if (allow_all && strcmp(text, "all") == 0) {
        *out = -1;
        return true;
    }
    if (!parse_long(text, 1, broker_count, &id)) {
        snprintf(reply, reply_size, "ERR unknown broker %s (brokers are 1..%d%s)", text,
                 broker_count, allow_all ? " or all" : "");
        return false;
    }
    *out = (int32_t)id;
    return true;
}

/* Accepts a numeric code or a name such as NOT_LEADER_OR_FOLLOWER or _TRANSPORT. */
static bool parse_error_code(const char *text, rd_kafka_resp_err_t *out) {
    const struct rd_kafka_err_desc *descs = NULL;
    size_t desc_count = 0;
    rd_kafka_get_err_descs(&descs, &desc_count);
    long code = 0;
    bool numeric = parse_long(text, INT_MIN, INT_MAX, &code);
    for (size_t i = 0; i < desc_count; i++) {
        if (descs[i].name == NULL) {
            continue;
        }
        if ((numeric && (long)descs[i].code == code) ||
            (!numeric && strcmp(descs[i].name, text) == 0)) {
            *out = descs[i].code;
            return *out != RD_KAFKA_RESP_ERR_NO_ERROR;
        }
    }
    return false;
}

static void reply_mock_result(rd_kafka_resp_err_t err, char *reply, size_t reply_size) {
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(reply, reply_size, "OK");
    } else {
        snprintf(reply, reply_size, "ERR %s", rd_kafka_err2str(err));
    }
}

static void command_up_down(char **argv, int argc, bool up, char *reply, size_t reply_size) {
    int32_t broker = 0;
    if (argc != 2) {
        snprintf(reply, reply_size, "ERR usage: %s <brokerId|all>", argv[0]);
        return;
    }
    if (!parse_broker(argv[1], true, &broker, reply, reply_size)) {
        return;
    }
    pthread_mutex_lock(&mock_lock);
    rd_kafka_resp_err_t err = up ? rd_kafka_mock_broker_set_up(mock_cluster, broker)
                                 : rd_kafka_mock_broker_set_down(mock_cluster, broker);
    pthread_mutex_unlock(&mock_lock);
    reply_mock_result(err, reply, reply_size);
}

static void command_rtt(char **argv, int argc, char *reply, size_t reply_size) {
    int32_t broker = 0;
    long rtt_ms = 0;
    if (argc != 3 || !parse_long(argv[2], 0, RTT_MS_MAX, &rtt_ms)) {
        snprintf(reply, reply_size, "ERR usage: rtt <brokerId|all> <ms 0..%d>", RTT_MS_MAX);
        return;
    }
    if (!parse_broker(argv[1], true, &broker, reply, reply_size)) {
        return;
    }
    pthread_mutex_lock(&mock_lock);
    rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_rtt(mock_cluster, broker, (int)rtt_ms);
    pthread_mutex_unlock(&mock_lock);
    reply_mock_result(err, reply, reply_size);
}

/*
 * Only topics this program created are accepted: the mock would silently
 * auto-create a misspelled topic instead of failing.
 */
static void command_leader(char **argv, int argc, char *reply, size_t reply_size) {
    int32_t broker = 0;
    long partition = 0;
    if (argc != 4 || !parse_long(argv[2], 0, PARTITIONS_MAX - 1, &partition)) {
        snprintf(reply, reply_size, "ERR usage: leader <topic> <partition> <brokerId>");
        return;
    }
    if (!parse_broker(argv[3], false, &broker, reply, reply_size)) {
        return;
    }
    pthread_mutex_lock(&mock_lock);
    const topic_t *topic = topic_find(argv[1]);
    if (topic == NULL) {
        snprintf(reply, reply_size, "ERR unknown topic %s", argv[1]);
    } else if (partition >= topic->partitions) {
        snprintf(reply, reply_size, "ERR topic %s has partitions 0..%d", topic->name,
                 topic->partitions - 1);
    } else {
        reply_mock_result(rd_kafka_mock_partition_set_leader(mock_cluster, topic->name,
                                                             (int32_t)partition, broker),
                          reply, reply_size);
    }
    pthread_mutex_unlock(&mock_lock);
}

static void command_error(char **argv, int argc, char *reply, size_t reply_size) {
    long api_key = 0;
    long count = 1;
    rd_kafka_resp_err_t code = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (argc < 3 || argc > 4 || !parse_long(argv[1], 0, INT16_MAX, &api_key) ||
        !parse_error_code(argv[2], &code) ||
        (argc == 4 && !parse_long(argv[3], 1, ERROR_COUNT_MAX, &count))) {
        snprintf(reply, reply_size,
                 "ERR usage: error <apiKey> <errorCode|ERROR_NAME> [count 1..%d]",
                 ERROR_COUNT_MAX);
        return;
    }
    rd_kafka_resp_err_t errors[ERROR_COUNT_MAX];
    for (long i = 0; i < count; i++) {
        errors[i] = code;
    }
    pthread_mutex_lock(&mock_lock);
    rd_kafka_mock_push_request_errors_array(mock_cluster, (int16_t)api_key, (size_t)count,
                                            errors);
    pthread_mutex_unlock(&mock_lock);
    snprintf(reply, reply_size, "OK");
}

static void command_topic(char **argv, int argc, char *reply, size_t reply_size) {
    long partitions = 0;
    if (argc != 3 || !topic_name_valid(argv[1]) ||
        !parse_long(argv[2], 1, PARTITIONS_MAX, &partitions)) {
        snprintf(reply, reply_size, "ERR usage: topic <name [a-zA-Z0-9._-]> <partitions 1..%d>",
                 PARTITIONS_MAX);
        return;
    }
    pthread_mutex_lock(&mock_lock);
    if (topic_create(argv[1], (int)partitions, reply, reply_size)) {
        snprintf(reply, reply_size, "OK");
    }
    pthread_mutex_unlock(&mock_lock);
}

/* Returns true when the program should exit after the reply is sent. */
static bool handle_command(char *line, char *reply, size_t reply_size) {
    char *argv[TOKENS_MAX];
    int argc = 0;
    char *save = NULL;
    for (char *token = strtok_r(line, " \t\r", &save); token != NULL;
         token = strtok_r(NULL, " \t\r", &save)) {
        if (argc == TOKENS_MAX) {
            snprintf(reply, reply_size, "ERR too many arguments");
            return false;
        }
        argv[argc++] = token;
    }
    if (argc == 0) {
        snprintf(reply, reply_size, "ERR empty command");
        return false;
    }
    const char *name = argv[0];
    if ((strcmp(name, "ping") == 0 || strcmp(name, "quit") == 0) && argc != 1) {
        snprintf(reply, reply_size, "ERR usage: %s", name);
    } else if (strcmp(name, "ping") == 0) {
        snprintf(reply, reply_size, "OK pong");
    } else if (strcmp(name, "quit") == 0) {
        snprintf(reply, reply_size, "OK");
        return true;
    } else if (strcmp(name, "down") == 0 || strcmp(name, "up") == 0) {
        command_up_down(argv, argc, name[0] == 'u', reply, reply_size);
    } else if (strcmp(name, "rtt") == 0) {
        command_rtt(argv, argc, reply, reply_size);
    } else if (strcmp(name, "leader") == 0) {
        command_leader(argv, argc, reply, reply_size);
    } else if (strcmp(name, "error") == 0) {
        command_error(argv, argc, reply, reply_size);
    } else if (strcmp(name, "topic") == 0) {
        command_topic(argv, argc, reply, reply_size);
    } else {
        snprintf(reply, reply_size,
                 "ERR unknown command (ping|down|up|rtt|leader|error|topic|quit)");
    }
    return false;
}

static bool write_all(int fd, const char *data, size_t length) {
    while (length > 0) {
        ssize_t written = write(fd, data, length);
        if (written < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        data += written;
        length -= (size_t)written;
    }
    return true;
}

/* One write per reply, so a reply line is never interleaved with another. */
static bool write_line(int fd, const char *text) {
    char line[REPLY_LENGTH_MAX + 1];
    int length = snprintf(line, sizeof line, "%.*s\n", REPLY_LENGTH_MAX - 1, text);
    return length > 0 && write_all(fd, line, (size_t)length);
}

typedef enum { LINE_OK, LINE_TOO_LONG, LINE_EOF } line_status_t;

typedef struct {
    int fd;
    char buffer[LINE_LENGTH_MAX];
    size_t used;
    bool discarding;
} line_reader_t;

/* Reads one line (without the newline) into line, which holds LINE_LENGTH_MAX + 1 bytes. */
static line_status_t line_reader_next(line_reader_t *reader, char *line) {
    for (;;) {
        char *newline = memchr(reader->buffer, '\n', reader->used);
        if (newline != NULL) {
            size_t length = (size_t)(newline - reader->buffer);
            bool discarded = reader->discarding;
            memcpy(line, reader->buffer, length);
            line[length] = '\0';
            reader->used -= length + 1;
            memmove(reader->buffer, newline + 1, reader->used);
            reader->discarding = false;
            return discarded ? LINE_TOO_LONG : LINE_OK;
        }
        if (reader->used == sizeof reader->buffer) {
            reader->discarding = true;
            reader->used = 0;
        }
        ssize_t got = read(reader->fd, reader->buffer + reader->used,
                           sizeof reader->buffer - reader->used);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            return LINE_EOF;
        }
        reader->used += (size_t)got;
    }
}

/* Serves commands from in_fd until EOF; replies go to out_fd. */
static void serve_commands(int in_fd, int out_fd) {
    line_reader_t reader = {.fd = in_fd, .used = 0, .discarding = false};
    char line[LINE_LENGTH_MAX + 1];
    char reply[REPLY_LENGTH_MAX];
    for (;;) {
        line_status_t status = line_reader_next(&reader, line);
        if (status == LINE_EOF) {
            return;
        }
        bool quit = false;
        if (status == LINE_TOO_LONG) {
            snprintf(reply, sizeof reply, "ERR line longer than %d bytes", LINE_LENGTH_MAX - 1);
        } else {
            quit = handle_command(line, reply, sizeof reply);
        }
        if (!write_line(out_fd, reply)) {
            return;
        }
        if (quit) {
            /* Exit through the main thread's sigwait, the same path as an outside SIGTERM. */
            kill(getpid(), SIGTERM);
            return;
        }
    }
}

static void *serve_stdin(void *unused) {
    (void)unused;
    serve_commands(STDIN_FILENO, STDOUT_FILENO);
    return NULL;
}

static void *serve_connection(void *arg) {
    int fd = (int)(intptr_t)arg;
    serve_commands(fd, fd);
    close(fd);
    atomic_fetch_sub(&connection_count, 1);
    return NULL;
}

static void *serve_listener(void *arg) {
    int listener = (int)(intptr_t)arg;
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE ||
                errno == ENFILE) {
                continue;
            }
            fprintf(stderr, "mock-kafka: accept: %s\n", strerror(errno));
            return NULL;
        }
        if (atomic_fetch_add(&connection_count, 1) >= CONNECTIONS_MAX) {
            write_line(fd, "ERR too many control connections");
            close(fd);
            atomic_fetch_sub(&connection_count, 1);
            continue;
        }
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&thread, &attributes, serve_connection, (void *)(intptr_t)fd) != 0) {
            close(fd);
            atomic_fetch_sub(&connection_count, 1);
        }
        pthread_attr_destroy(&attributes);
    }
}

/* Returns the listening socket, with the bound port in *port, or -1. */
static int listen_control(long requested_port, int *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons((uint16_t)requested_port);
    socklen_t address_length = sizeof address;
    if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&address, &address_length) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(address.sin_port);
    return fd;
}

static void usage(FILE *out) {
    fprintf(out, "usage: mock-kafka [--brokers N] [--topic NAME:PARTITIONS]... "
                 "[--control-port PORT]\n");
}

static int fail_usage(const char *message, const char *argument) {
    fprintf(stderr, "mock-kafka: %s%s%s\n", message, argument ? ": " : "",
            argument ? argument : "");
    usage(stderr);
    return 2;
}

static bool parse_topic_argument(const char *argument, char *name, long *partitions) {
    const char *colon = strrchr(argument, ':');
    if (colon == NULL || (size_t)(colon - argument) > TOPIC_NAME_LENGTH_MAX) {
        return false;
    }
    memcpy(name, argument, (size_t)(colon - argument));
    name[colon - argument] = '\0';
    return topic_name_valid(name) && parse_long(colon + 1, 1, PARTITIONS_MAX, partitions);
}

int main(int argc, char **argv) {
    pid_t parent = getppid();
#ifdef __linux__
    /* Tests must never leak brokers: die with whoever started us. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) {
        return 1;
    }
#else
    (void)parent;
#endif

    long control_port = -1;
    const char *topic_arguments[TOPICS_MAX];
    int topic_argument_count = 0;
    for (int i = 1; i < argc; i++) {
        const char *option = argv[i];
        if (strcmp(option, "--help") == 0 || strcmp(option, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (value == NULL) {
            return fail_usage("missing value for", option);
        }
        long number = 0;
        if (strcmp(option, "--brokers") == 0) {
            if (!parse_long(value, 1, BROKERS_MAX, &number)) {
                return fail_usage("--brokers must be 1..32, got", value);
            }
            broker_count = (int)number;
        } else if (strcmp(option, "--topic") == 0) {
            if (topic_argument_count == TOPICS_MAX) {
                return fail_usage("too many --topic options", NULL);
            }
            topic_arguments[topic_argument_count++] = value;
        } else if (strcmp(option, "--control-port") == 0) {
            if (!parse_long(value, 0, 65535, &control_port)) {
                return fail_usage("--control-port must be 0..65535, got", value);
            }
        } else {
            return fail_usage("unknown option", option);
        }
        i++;
    }

    /* Blocked in every thread (threads inherit the mask); main takes them via sigwait. */
    sigset_t exit_signals;
    sigemptyset(&exit_signals);
    sigaddset(&exit_signals, SIGTERM);
    sigaddset(&exit_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &exit_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    char error_text[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, log_nothing);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error_text, sizeof error_text);
    if (rk == NULL) {
        fprintf(stderr, "mock-kafka: rd_kafka_new: %s\n", error_text);
        return 1;
    }
    mock_cluster = rd_kafka_mock_cluster_new(rk, broker_count);
    if (mock_cluster == NULL) {
        fprintf(stderr, "mock-kafka: rd_kafka_mock_cluster_new failed\n");
        rd_kafka_destroy(rk);
        return 1;
    }

    for (int i = 0; i < topic_argument_count; i++) {
        char name[TOPIC_NAME_LENGTH_MAX + 1];
        long partitions = 0;
        char reply[REPLY_LENGTH_MAX];
        if (!parse_topic_argument(topic_arguments[i], name, &partitions)) {
            rd_kafka_mock_cluster_destroy(mock_cluster);
            rd_kafka_destroy(rk);
            return fail_usage("--topic must be NAME:PARTITIONS (1..1024), got",
                              topic_arguments[i]);
        }
        if (!topic_create(name, (int)partitions, reply, sizeof reply)) {
            fprintf(stderr, "mock-kafka: --topic %s: %s\n", topic_arguments[i], reply);
            rd_kafka_mock_cluster_destroy(mock_cluster);
            rd_kafka_destroy(rk);
            return 2;
        }
    }

    printf("BOOTSTRAP %s\n", rd_kafka_mock_cluster_bootstraps(mock_cluster));
    if (control_port >= 0) {
        int bound_port = 0;
        int listener = listen_control(control_port, &bound_port);
        pthread_t thread;
        int failure = listener < 0 ? errno
                                   : pthread_create(&thread, NULL, serve_listener,
                                                    (void *)(intptr_t)listener);
        if (failure != 0) {
            fprintf(stderr, "mock-kafka: control port %ld: %s\n", control_port,
                    strerror(failure));
            rd_kafka_mock_cluster_destroy(mock_cluster);
            rd_kafka_destroy(rk);
            return 1;
        }
        pthread_detach(thread);
        printf("CONTROL %d\n", bound_port);
    }
    printf("READY\n");
    fflush(stdout);

    pthread_t stdin_thread;
    int failure = pthread_create(&stdin_thread, NULL, serve_stdin, NULL);
    if (failure == 0) {
        pthread_detach(stdin_thread);
    } else {
        fprintf(stderr, "mock-kafka: cannot serve stdin: %s\n", strerror(failure));
    }

    int signal_number = 0;
    sigwait(&exit_signals, &signal_number);

    /* Held until exit so no control thread calls into a destroyed cluster. */
    pthread_mutex_lock(&mock_lock);
    rd_kafka_mock_cluster_destroy(mock_cluster);
    rd_kafka_destroy(rk);
    return 0;
}
