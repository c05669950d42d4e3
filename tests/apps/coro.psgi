# The PSGI app of tests/integration/t_coroae.py: waits of every kind that
# a request under --coroae may use.
use strict;
use warnings;
use Coro;
use Coro::AnyEvent;
use Coro::Socket;
use AnyEvent;
use Time::HiRes ();

sub q_of { my ($env, $k, $d) = @_; ($env->{QUERY_STRING} // '') =~ /(?:^|&)$k=([^&]*)/ ? $1 : $d }

my %routes = (
    '/hello' => sub { [200, ['Content-Type' => 'text/plain'], ['Hello World']] },
    '/sleep' => sub {
        my $env = shift;
        my $t0 = Time::HiRes::time();
        Coro::AnyEvent::sleep(q_of($env, 's', 1));
        [200, [], [sprintf("slept %.2f core %d", Time::HiRes::time() - $t0, uwsgi::core_id())]];
    },
    '/timer' => sub {
        my $env = shift;
        my $cv = AnyEvent->condvar;
        my $w = AnyEvent->timer(after => q_of($env, 's', 1), cb => sub { $cv->send('fired') });
        my $r = $cv->recv;
        [200, [], ["timer $r"]];
    },
    '/uwsgi_sleep' => sub {
        my $env = shift;
        uwsgi::async_sleep(q_of($env, 's', 1));
        uwsgi::suspend();
        [200, [], ['uwsgi slept ready_fd=' . uwsgi::ready_fd()]];
    },
    '/socket' => sub {
        my $env = shift;
        my $port = q_of($env, 'port', 0);
        my $s = Coro::Socket->new(PeerAddr => '127.0.0.1', PeerPort => $port)
            or die "connect: $!";
        $s->print("ping");
        my $buf = '';
        $s->sysread($buf, 100);
        [200, [], ["socket $buf"]];
    },
    '/uwsgi_fd' => sub {
        my $env = shift;
        my $fd = uwsgi::async_connect('127.0.0.1:' . q_of($env, 'port', 0));
        die "async_connect failed" if $fd < 0;
        uwsgi::wait_fd_write($fd, 5);
        uwsgi::suspend();
        die "not connected" unless uwsgi::is_connected($fd);
        open(my $fh, '+<&=', $fd) or die "fdopen: $!";
        syswrite($fh, "hey");
        uwsgi::wait_fd_read($fd, 5);
        uwsgi::suspend();
        my $ready = uwsgi::ready_fd();
        my $buf = '';
        sysread($fh, $buf, 100);
        close($fh);
        [200, [], ["fd " . ($ready == $fd ? 'ready' : "not ready $ready") . " $buf"]];
    },
    '/async' => sub {
        my @c = map { my $i = $_; async { Coro::AnyEvent::sleep(0.2); $i * 10 } } 1 .. 3;
        my $sum = 0;
        $sum += $_->join for @c;
        [200, [], ["helpers $sum"]];
    },
    '/die_later' => sub {
        my $env = shift;
        Coro::AnyEvent::sleep(q_of($env, 's', 0.3));
        die "died in a coroutine on purpose\n";
    },
    '/stream' => sub {
        return sub {
            my $r = shift;
            my $w = $r->([200, ['Content-Type' => 'text/plain']]);
            for my $i (1 .. 3) { Coro::AnyEvent::sleep(0.1); $w->write("tick$i\n") }
            $w->close;
        };
    },
    '/later' => sub {
        my $env = shift;
        die "not nonblocking" unless $env->{'psgi.nonblocking'};
        return sub {
            my $r = shift;
            my $t; $t = AnyEvent->timer(after => q_of($env, 's', 0.3), cb => sub {
                undef $t;
                my $w = $r->([200, ['Content-Type' => 'text/plain']]);
                $w->write("responded later");
                $w->close;
            });
        };
    },
    '/echo' => sub {
        my $env = shift;
        my ($all, $buf) = ('', '');
        while ($env->{'psgi.input'}->read($buf, 4096)) { $all .= $buf }
        [200, [], [$all]];
    },
    '/env' => sub {
        my $env = shift;
        [200, [], [join '', map { "$_=" . (ref $env->{$_} ? 'ref' : $env->{$_}) . "\n" } sort keys %$env]];
    },
    '/cleanup' => sub {
        my $env = shift;
        push @{ $env->{'psgix.cleanup.handlers'} }, sub { $env->{'psgi.errors'}->print("coro cleanup ran\n") };
        Coro::AnyEvent::sleep(0.1);
        [200, [], ['cleanup']];
    },
    '/pid' => sub { [200, [], [$$]] },
    '/busy' => sub {
        my $t = Time::HiRes::time() + 30;
        1 while Time::HiRes::time() < $t;
        [200, [], ['never']];
    },
);

sub {
    my $env = shift;
    my $h = $routes{ $env->{PATH_INFO} } || sub { [404, [], ['not found']] };
    $h->($env);
};
