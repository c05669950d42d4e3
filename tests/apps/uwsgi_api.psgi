# The uwsgi:: API, one route per function, without Coro: the same app runs
# in the sync mode, under --async N without an engine and under --coroae
# (tests/integration/t_psgi_api.py).
use strict;
use warnings;
use Time::HiRes ();

sub q_of { my ($env, $k, $d) = @_; ($env->{QUERY_STRING} // '') =~ /(?:^|&)$k=([^&]*)/ ? $1 : $d }

sub connect_to {
    my $port = shift;
    my $fd = uwsgi::async_connect("127.0.0.1:$port");
    die "async_connect failed\n" if $fd < 0;
    uwsgi::wait_fd_write($fd, 5);
    uwsgi::suspend();
    die "not connected\n" unless uwsgi::is_connected($fd);
    open(my $fh, '+<&=', $fd) or die "fdopen: $!";
    return ($fd, $fh);
}

{
    # a body whose getline waits before each line
    package SlowLines;
    sub new { my ($c, $n, $s) = @_; bless { n => $n, s => $s, i => 0 }, $c }
    sub getline {
        my $self = shift;
        return undef if $self->{i} >= $self->{n};
        uwsgi::async_sleep($self->{s});
        uwsgi::suspend();
        return 'line' . $self->{i}++ . "\n";
    }
    sub close { 1 }
}

my %routes = (
    '/sleep' => sub {
        my $env = shift;
        my $t0 = Time::HiRes::time();
        uwsgi::async_sleep(q_of($env, 's', 1));
        uwsgi::suspend();
        [200, [], [sprintf("slept %.2f timed_out=%d ready_fd=%d core %d", Time::HiRes::time() - $t0,
                           uwsgi::timed_out(), uwsgi::ready_fd(), uwsgi::core_id())]];
    },
    '/fd' => sub {
        my $env = shift;
        my ($fd, $fh) = connect_to(q_of($env, 'port', 0));
        syswrite($fh, "hey");
        uwsgi::wait_fd_read($fd, 5);
        uwsgi::suspend();
        my $ready = uwsgi::ready_fd();
        my $to = uwsgi::timed_out();
        my $buf = '';
        sysread($fh, $buf, 100);
        close($fh);
        [200, [], ["fd " . ($ready == $fd ? 'ready' : "not ready $ready") . " timed_out=$to $buf"]];
    },
    '/fd_timeout' => sub {
        # the server never answers: the wait's timeout wakes the request
        my $env = shift;
        my ($fd, $fh) = connect_to(q_of($env, 'port', 0));
        my $t0 = Time::HiRes::time();
        uwsgi::wait_fd_read($fd, q_of($env, 't', 0.3));
        uwsgi::suspend();
        my $r = sprintf("ready_fd=%d timed_out=%d after %.2f", uwsgi::ready_fd(), uwsgi::timed_out(),
                        Time::HiRes::time() - $t0);
        close($fh);
        [200, [], [$r]];
    },
    '/ids' => sub {
        my $cfd = uwsgi::connection_fd();
        open(my $cfh, '<&', $cfd) or die "connection_fd $cfd: $!";
        uwsgi::log("uwsgi-api-log-line from worker " . uwsgi::worker_id());
        [200, [], [join(' ', 'worker=' . uwsgi::worker_id(), 'core=' . uwsgi::core_id(),
                        'cores=' . uwsgi::cores(), 'version=' . uwsgi::version(),
                        'VERSION=' . $uwsgi::VERSION, 'cfd_is_socket=' . (-S $cfh ? 1 : 0),
                        'loop=' . ($uwsgi::loop // ''))]];
    },
    '/lines' => sub {
        my $env = shift;
        [200, ['Content-Type' => 'text/plain'], SlowLines->new(3, q_of($env, 's', 0.2))];
    },
    '/spawned' => sub {
        # under --coroae: a coroutine the app starts itself is no request
        my $r = eval { require Coro; 1 }
            ? Coro::async(sub { eval { uwsgi::core_id(); 'no error' } || $@ })->join
            : 'no Coro';
        $r =~ s/\n.*//s;
        [200, [], [$r]];
    },
    '/dies' => sub {
        # a bad fd dies with uWSGI's message, the worker goes on
        uwsgi::wait_fd_read(-1);
        [200, [], ['not reached']];
    },
);

my $outside = eval { uwsgi::suspend(); 1 } ? 'no error' : $@;
$outside =~ s/\n.*//s;

$routes{'/outside'} = sub { [200, [], [$outside]] };

sub {
    my $env = shift;
    my $h = $routes{ $env->{PATH_INFO} } || sub { [404, [], ['not found']] };
    return $h->($env);
};
