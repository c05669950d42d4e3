# Perl interpreter state across waits (tests/integration/t_coroae_state.py):
# each request recurses to a depth, and at every level waits (so that the
# other requests run on the same interpreter), dies inside nested evals
# after a wait, and checks after every wait that what Coro keeps per
# coroutine is still its own: `my` variables, $_, $@, $/, @_,
# $SIG{__DIE__}, $SIG{__WARN__}, the call depth. The body depends only on
# the request's id and depth: the test computes the expected one by running
# this file with plain perl and stand-in uwsgi:: functions that do not wait.
use strict;
use warnings;

our @warn_of;    # per request id: a __WARN__ handler to tell apart

sub wait_a_bit {
    uwsgi::async_sleep($_[0]);
    uwsgi::suspend();
}

sub depth_now { my $n = 0; $n++ while caller($n); $n }

sub check {
    my ($id, $d, $mine, $base, @args) = @_;
    my @bad;
    push @bad, "my=$mine" if $mine ne "my $id:$d";
    push @bad, "_=$_" if $_ ne "underscore $id:$d";
    push @bad, "/=$/" if $/ ne "sep $id:$d";
    push @bad, "args=@args" if "@args" ne "$id $d";
    {
        no strict 'refs';
        push @bad, "die_handler" unless ref $SIG{__DIE__} && $SIG{__DIE__} == \&{"main::die_$id"};
    }
    push @bad, "warn_handler" unless ref $SIG{__WARN__} && $SIG{__WARN__} == $warn_of[$id];
    # the call depth is the same as in plain perl (the reference)
    return @bad ? "BAD($id:$d:" . join(';', @bad) . ")" : "ok$d@" . (depth_now() - $base);
}

# named so that the check can tell them apart
for my $i (0 .. 99) { no strict 'refs'; *{"main::die_$i"} = sub { }; $warn_of[$i] = sub { } }

sub level {
    my ($id, $d, $max, $s, $base, $die) = @_;
    local $_ = "underscore $id:$d";
    local $/ = "sep $id:$d";
    my $mine = "my $id:$d";
    my @out;
    if ($d < $max) {
        my $r = eval {
            wait_a_bit($s);
            push @out, check($id, $d, $mine, $base, level_args($id, $d));
            # every odd level dies after a wait, inside two evals
            if ($d % 2) {
                eval { wait_a_bit($s); die "inner $id:$d\n" };
                push @out, "inner[" . ($@ eq "inner $id:$d\n" ? 'ok' : "BAD $@") . "]";
                wait_a_bit($s);
                push @out, "kept[" . ($@ eq "inner $id:$d\n" ? 'ok' : "BAD $@") . "]";
                die "outer $id:$d\n";
            }
            level($id, $d + 1, $max, $s, $base, $die);
        };
        if (defined $r) {
            push @out, $r;
        } else {
            my $e = $@;
            die $e if $e =~ /^deep die/;    # not ours: on up
            wait_a_bit($s);
            push @out, "caught[" . ($e eq "outer $id:$d\n" && $@ eq $e ? 'ok' : "BAD $e/$@") . "]";
            push @out, level($id, $d + 1, $max, $s, $base, $die);
        }
    }
    wait_a_bit($s);
    # ?die=1: the deepest level dies outside every eval of ours (a 500)
    die "deep die $id\n" if $d == $max && $die;
    push @out, check($id, $d, $mine, $base, level_args($id, $d));
    return join(',', @out);
}

# @_ of a sub that waits before looking at it
sub level_args { my @a = @_; wait_a_bit(0); return @_ }

sub q_of { my ($env, $k, $d) = @_; ($env->{QUERY_STRING} // '') =~ /(?:^|&)$k=([^&]*)/ ? $1 : $d }

# how many requests were inside the app at once, at most (/max)
our ($inflight, $max_inflight) = (0, 0);

my $app = sub {
    my $env = shift;
    return [200, [], ["max $max_inflight"]] if $env->{PATH_INFO} && $env->{PATH_INFO} eq '/max';
    $max_inflight = $inflight if ++$inflight > $max_inflight;
    my ($id, $max, $s) = (q_of($env, 'id', 0), q_of($env, 'd', 3), q_of($env, 's', 0.001));
    no strict 'refs';
    local $SIG{__DIE__} = \&{"main::die_$id"};
    local $SIG{__WARN__} = $warn_of[$id];
    my $base = depth_now();
    my $body = eval { "[$id] " . level($id, 0, $max, $s, $base, q_of($env, 'die', 0)) };
    $inflight--;
    die $@ unless defined $body;
    [200, ['Content-Type' => 'text/plain'], [$body]];
};
$app;
