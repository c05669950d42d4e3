# The PSGI test app of tests/integration/t_psgi.py: one path per case.
use strict;
use warnings;

my %routes;

sub rss_kb {
    open(my $f, '<', '/proc/self/status') or return 0;
    while (<$f>) { return $1 if /^VmRSS:\s+(\d+)/ }
    return 0;
}
my $SELF = __FILE__;

sub body_of {
    my $env = shift;
    my $in = $env->{'psgi.input'};
    my ($all, $buf) = ('', '');
    while ($in->read($buf, 7)) { $all .= $buf }
    return $all;
}

{
    package Lines;
    sub new { my ($c, @l) = @_; bless { l => [@l] }, $c }
    sub getline { my $s = shift; shift @{ $s->{l} } }
    sub close { $main::closed++; 1 }
}
our $closed = 0;

%routes = (
    '/hello' => sub { [200, ['Content-Type' => 'text/plain'], ['Hello World']] },
    '/env' => sub {
        my $env = shift;
        my $out = '';
        for my $k (sort keys %$env) {
            my $v = $env->{$k};
            if ($k eq 'psgi.version') { $v = join('.', @$v) }
            elsif (ref $v) { $v = 'ref:' . ref($v) }
            $out .= "$k=$v\n";
        }
        [200, ['Content-Type' => 'text/plain'], [$out]];
    },
    '/echo' => sub {
        my $env = shift;
        my $b = body_of($env);
        [200, ['Content-Type' => 'application/octet-stream'], [$b]];
    },
    '/seek' => sub {
        my $env = shift;
        my $in = $env->{'psgi.input'};
        my $b1 = '';
        $in->read($b1, 3);
        $in->seek(0, 0);
        my $all = body_of($env);
        $in->seek(1, 0);
        my $b2 = 'xyz';
        $in->read($b2, 2, 1);
        [200, [], ["$b1|$all|$b2"]];
    },
    '/digest' => sub {
        # reads the body in 4 KiB steps, then seeks about in it; says how
        # much the worker's memory grew meanwhile
        my $env = shift;
        my $in = $env->{'psgi.input'};
        require Digest::MD5;
        my $rss0 = rss_kb();
        my ($md5, $n, $buf) = (Digest::MD5->new, 0, '');
        while (my $got = $in->read($buf, 4096)) { $md5->add($buf); $n += $got }
        my $grew = rss_kb() - $rss0;
        my @out = ($n, $md5->hexdigest, $grew);
        for my $s ([0, 0, 16], [-10, 2, 10], [5000, 0, 5], [-3, 1, 3]) {
            $in->seek($s->[0], $s->[1]) or die "seek @$s failed";
            my $b = '';
            $in->read($b, $s->[2]);
            push @out, unpack('H*', $b) . '@' . $in->tell;
        }
        [200, ['Content-Type' => 'text/plain'], [join(' ', @out)]];
    },
    '/errors' => sub {
        my $env = shift;
        $env->{'psgi.errors'}->print("psgi-errors-line one\npsgi-errors-");
        $env->{'psgi.errors'}->print("line two\n");
        [200, [], ['logged']];
    },
    '/die' => sub { die "the app died on purpose\n" },
    '/badres' => sub { return "not a response" },
    '/lines' => sub {
        [200, ['Content-Type' => 'text/plain'], Lines->new("a\n", "bb\n", "ccc\n")];
    },
    '/closed' => sub { [200, [], ["closed=$main::closed"]] },
    '/file' => sub {
        open(my $fh, '<', $SELF) or die "$SELF: $!";
        [200, ['Content-Type' => 'text/plain'], $fh];
    },
    '/file-tail' => sub {
        # a handle read past its start: sent from its position
        open(my $fh, '<', $SELF) or die "$SELF: $!";
        my $skip = <$fh>;
        [200, ['Content-Type' => 'text/plain'], $fh];
    },
    '/file-end' => sub {
        open(my $fh, '<', $SELF) or die "$SELF: $!";
        seek($fh, 0, 2);
        [200, ['Content-Type' => 'text/plain'], $fh];
    },
    '/delayed-file' => sub {
        return sub {
            open(my $fh, '<', $SELF) or die "$SELF: $!";
            $_[0]->([200, ['Content-Type' => 'text/plain'], $fh]);
        };
    },
    '/badheader' => sub {
        my $env = shift;
        my %h = (name => ['Bad Name' => 'x'], value => ['X-V' => "a\r\nb"],
                 te => ['Transfer-Encoding' => 'chunked']);
        [200, $h{ $env->{QUERY_STRING} }, ['never']];
    },
    '/delayed' => sub {
        return sub {
            my $r = shift;
            $r->([200, ['Content-Type' => 'text/plain'], ['delayed body']]);
        };
    },
    '/stream' => sub {
        return sub {
            my $r = shift;
            my $w = $r->([200, ['Content-Type' => 'text/plain']]);
            $w->write("part$_\n") for 1 .. 3;
            $w->close;
        };
    },
    '/cleanup' => sub {
        my $env = shift;
        push @{ $env->{'psgix.cleanup.handlers'} }, sub {
            my $e = shift;
            $e->{'psgi.errors'}->print("cleanup ran for $e->{PATH_INFO}\n");
        };
        [200, [], ['cleanup registered']];
    },
    '/status' => sub {
        my $env = shift;
        my ($code) = ($env->{QUERY_STRING} =~ /(\d+)/);
        [$code, ['X-Code' => $code], ["code $code"]];
    },
    '/headers' => sub {
        [200, ['X-One' => 'a', 'X-One' => 'b', 'Content-Type' => 'text/html'], ['h']];
    },
    '/exit' => sub { exit 3 },
    '/worker' => sub { [200, [], [uwsgi::worker_id() . ' ' . $$]] },
    '/harakiri' => sub {
        my $env = shift;
        $env->{'psgix.harakiri.commit'} = 1;
        [200, [], ["bye $$"]];
    },
);

my $app = sub {
    my $env = shift;
    my $h = $routes{ $env->{PATH_INFO} }
        || sub { [404, ['Content-Type' => 'text/plain'], ['not found']] };
    return $h->($env);
};

$app;
