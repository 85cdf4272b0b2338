# bash completion for samen(1): commands, subcommands, options, collections,
# roles, and the running daemon's circle names and device ids.
#
# Installed as PREFIX/share/bash-completion/completions/samen, where
# bash-completion loads it the first time samen is completed; or source it.
# It needs nothing from bash-completion itself.
#
# Circle names and device ids are asked from the daemon of the data
# directory the command line names (-d DIR, else samen's own default), with
# samen --json and a one-second timeout, and nothing is shown when it does
# not answer (not running, locked, too slow).  No command lists
# collections: the conventional ones (case, note, task, contact) are
# offered, and any other name may be typed.
#
# The lists below are samen's command table (cli/main.c);
# tests/system/test_completion.py fails when they differ from samen help.

_samen_commands="init unlock lock id status metrics put get ls find rm log note
conflicts rebuild purge handover export import audit peer sync circle device help"
_samen_peer_commands="add ls rm"
_samen_circle_commands="new add role rm quarantine accept ls use retention"
_samen_device_commands="revoke"
_samen_roles="admin member relay"
_samen_collections="case note task contact"
_samen_global_options="-d --dir --json -h --help --version"

# The options a command ($1, and $2 a group's subcommand) takes besides
# the global ones.
_samen_command_options()
{
	case "$1 $2" in
	"init ") echo "--passphrase-file --no-passphrase" ;;
	"unlock ") echo "--passphrase-file" ;;
	"put " | "handover ") echo "--circle" ;;
	"ls ") echo "--where" ;;
	"sync ") echo "--wait --timeout" ;;
	"circle add") echo "--role --no-history" ;;
	"device revoke") echo "--reason" ;;
	"export ") echo "--subject --circle --format --with-history" ;;
	"import ") echo "--circle --dry-run" ;;
	"purge ") echo "--cascade --reason" ;;
	"circle retention") echo "--due" ;;
	"audit ") echo "--device --since" ;;
	esac
}

# samen --json ARGS... of the data directory $1 ("" for the default),
# quietly: its stdout, or nothing.
_samen_ask()
{
	local dir=$1
	shift
	if [[ -n $dir ]]; then
		SAMEN_TIMEOUT=1 "$_samen_bin" -d "$dir" --json "$@" 2>/dev/null
	else
		SAMEN_TIMEOUT=1 "$_samen_bin" --json "$@" 2>/dev/null
	fi
}

# The values of "key": "value" pairs in JSON text on stdin: names and ids
# are plain ([A-Za-z0-9_-]), so no JSON parser is needed for them.
_samen_json_values()
{
	grep -o "\"$1\": *\"[A-Za-z0-9_-]*\"" | sed 's/.*: *"\(.*\)"/\1/' |
	    sort -u
}

_samen_circles()
{
	_samen_ask "$1" circle ls | _samen_json_values name
}

_samen_peers()
{
	_samen_ask "$1" peer ls | _samen_json_values device
}

# Devices known from the circles' member lists (candidates for peer add).
_samen_members()
{
	_samen_ask "$1" circle ls | _samen_json_values device
}

# Names and ids hold no spaces: the default word splitting is right.
_samen_reply()
{
	COMPREPLY=($(compgen -W "$1" -- "$2"))
}

_samen()
{
	local cur=${COMP_WORDS[COMP_CWORD]}
	local prev=
	local i w cmd= sub= dir= npos=0 first=

	_samen_bin=${COMP_WORDS[0]}
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()

	# What stands before the word being completed: the data directory,
	# the command, its subcommand, how many arguments.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		-d | --dir)
			((i++))
			dir=${COMP_WORDS[i]}
			continue
			;;
		--dir=*)
			dir=${w#--dir=}
			continue
			;;
		-d?*)
			dir=${w#-d}
			continue
			;;
		--passphrase-file | --where | --timeout | --circle | --role | \
		    --reason | --format | --subject | -o | --output | --device | \
		    --since)
			((i++))
			continue
			;;
		-*)
			continue
			;;
		esac
		if [[ -z $cmd ]]; then
			cmd=$w
		elif [[ ($cmd == peer || $cmd == circle || $cmd == device) &&
		    -z $sub ]]; then
			sub=$w
		else
			((npos++ == 0)) && first=$w
		fi
	done
	[[ $dir == "~/"* ]] && dir=$HOME/${dir#"~/"}

	case $prev in
	-d | --dir)
		COMPREPLY=($(compgen -d -- "$cur"))
		return
		;;
	--passphrase-file | -o | --output)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--format)
		_samen_reply "csv json ndjson html" "$cur"
		return
		;;
	--subject | --since)
		return
		;;
	--device)
		_samen_reply "$(_samen_members "$dir")" "$cur"
		return
		;;
	--circle)
		_samen_reply "$(_samen_circles "$dir")" "$cur"
		return
		;;
	--role)
		_samen_reply "$_samen_roles" "$cur"
		return
		;;
	--where | --timeout | --reason)
		return
		;;
	esac

	if [[ $cur == -* ]]; then
		_samen_reply "$_samen_global_options $(_samen_command_options \
		    "$cmd" "$sub")" "$cur"
		return
	fi

	case $cmd in
	"")
		_samen_reply "$_samen_commands" "$cur"
		;;
	help)
		if ((npos == 0)); then
			_samen_reply "$_samen_commands" "$cur"
		elif ((npos == 1)) && [[ $first == peer ]]; then
			_samen_reply "$_samen_peer_commands" "$cur"
		elif ((npos == 1)) && [[ $first == circle ]]; then
			_samen_reply "$_samen_circle_commands" "$cur"
		elif ((npos == 1)) && [[ $first == device ]]; then
			_samen_reply "$_samen_device_commands" "$cur"
		fi
		;;
	peer)
		if [[ -z $sub ]]; then
			_samen_reply "$_samen_peer_commands" "$cur"
		elif ((npos == 0)); then
			case $sub in
			rm) _samen_reply "$(_samen_peers "$dir")" "$cur" ;;
			add) _samen_reply "$(_samen_members "$dir")" "$cur" ;;
			esac
		fi
		;;
	circle)
		if [[ -z $sub ]]; then
			_samen_reply "$_samen_circle_commands" "$cur"
		elif ((npos == 0)) && [[ $sub != new && $sub != ls ]]; then
			_samen_reply "$(_samen_circles "$dir")" "$cur"
		elif ((npos == 1)) && [[ $sub == add ]]; then
			_samen_reply "$(_samen_peers "$dir")" "$cur"
		elif ((npos == 1)) && [[ $sub == role || $sub == rm ||
		    $sub == accept ]]; then
			_samen_reply "$(_samen_members "$dir")" "$cur"
		elif ((npos == 2)) && [[ $sub == role ]]; then
			_samen_reply "$_samen_roles" "$cur"
		elif ((npos == 1)) && [[ $sub == retention ]]; then
			_samen_reply "$_samen_collections" "$cur"
		elif ((npos == 2)) && [[ $sub == retention ]]; then
			_samen_reply "30d 18m 7y none" "$cur"
		fi
		;;
	device)
		if [[ -z $sub ]]; then
			_samen_reply "$_samen_device_commands" "$cur"
		elif ((npos == 0)) && [[ $sub == revoke ]]; then
			_samen_reply "$(_samen_members "$dir")" "$cur"
		fi
		;;
	put | get | ls | rm | log | export | purge | audit)
		((npos == 0)) && _samen_reply "$_samen_collections" "$cur"
		;;
	import)
		if ((npos == 0)); then
			_samen_reply "$_samen_collections" "$cur"
		elif ((npos == 1)); then
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		;;
	sync)
		((npos == 0)) && _samen_reply "$(_samen_peers "$dir")" "$cur"
		;;
	handover)
		((npos < 2)) && _samen_reply "$(_samen_members "$dir")" "$cur"
		;;
	esac
}

complete -F _samen samen
