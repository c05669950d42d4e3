# The PSGI test app of tests/integration/t_psgi.py: one path per case.
use strict;
use warnings;

my %routes;
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
