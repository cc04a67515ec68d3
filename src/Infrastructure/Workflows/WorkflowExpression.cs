using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Service.Infrastructure.Workflows;

/// <summary>Where a condition failed to parse: a 0-based character position and what was expected there.</summary>
public sealed record ExpressionError(int Position, string Message)
{
    public override string ToString() => $"At position {Position}: {Message}";
}

/// <summary>A condition's value, or why it has none (a type mismatch, a limit reached).</summary>
public readonly record struct ExpressionResult(JsonNode? Value, string? Error)
{
    public bool Failed => Error is not null;
}

/// <summary>
/// The condition language of workflows, parsed and evaluated here with no eval, reflection or loops:
/// literals (numbers, 'strings' or "strings", true, false, null, [lists]), variables under the roots in
/// <see cref="Roots"/> (<c>event.path</c>, <c>events[0].tool</c>, <c>steps.post.output.status</c>), arithmetic
/// (+ - * / %, + also joins strings), comparisons (== != &lt; &lt;= &gt; &gt;=), <c>in</c>, <c>contains</c>,
/// <c>startsWith</c>, <c>endsWith</c>, <c>matches</c> (a path glob), <c>and or not</c>, and parentheses.
/// A missing variable is null. Bounded: <see cref="MaxLength"/> characters, <see cref="MaxDepth"/> levels of nesting,
/// <see cref="MaxSteps"/> evaluation steps and <see cref="MaxStringLength"/> characters per string built.
/// </summary>
public sealed class WorkflowExpression
{
    public const int MaxLength = 2000;
    public const int MaxDepth = 32;
    public const int MaxSteps = 10_000;
    public const int MaxStringLength = 65_536;

    public static readonly IReadOnlyList<string> Roots = ["event", "events", "trigger", "run", "input", "steps"];

    private readonly Node _root;

    private WorkflowExpression(Node root, IReadOnlyList<VariablePath> variables) => (_root, Variables) = (root, variables);

    /// <summary>Every variable the expression reads, for validation (unknown step names, for instance).</summary>
    public IReadOnlyList<VariablePath> Variables { get; }

    public static WorkflowExpression? Parse(string text, out ExpressionError? error)
    {
        error = null;
        if (text.Length > MaxLength)
        {
            error = new ExpressionError(MaxLength, $"An expression is at most {MaxLength} characters.");
            return null;
        }
        try
        {
            var parser = new Parser(text);
            var root = parser.ParseAll();
            return new WorkflowExpression(root, parser.Variables);
        }
        catch (SyntaxException e)
        {
            error = new ExpressionError(e.Position, e.Message);
            return null;
        }
    }

    /// <summary>A bare variable path (what a template placeholder holds), or null with the reason.</summary>
    public static VariablePath? ParsePath(string text, out ExpressionError? error)
    {
        var parsed = Parse(text, out error);
        if (parsed?._root is Variable variable) return variable.Path;
        error ??= new ExpressionError(0, $"Expected a variable such as event.path, not '{text}'.");
        return null;
    }

    /// <summary>Evaluates against <paramref name="scope"/>, an object whose properties are the roots.</summary>
    public ExpressionResult Evaluate(JsonObject scope)
    {
        try
        {
            var budget = new Budget();
            return new ExpressionResult(Eval(_root, scope, budget), null);
        }
        catch (EvaluationException e)
        {
            return new ExpressionResult(null, e.Message);
        }
    }

    /// <summary>A condition's verdict: true or false; null and a missing value are false; anything else is an error.</summary>
    public (bool Value, string? Error) Test(JsonObject scope)
    {
        var result = Evaluate(scope);
        if (result.Failed) return (false, result.Error);
        return result.Value switch
        {
            null => (false, null),
            JsonValue v when v.GetValueKind() is JsonValueKind.True => (true, null),
            JsonValue v when v.GetValueKind() is JsonValueKind.False => (false, null),
            var other => (false, $"The condition must be true or false, not {KindName(other)}."),
        };
    }

    // ---- syntax tree -------------------------------------------------------------------------------------------

    private abstract record Node(int Position);
    private sealed record Literal(int Position, JsonNode? Value) : Node(Position);
    private sealed record ListNode(int Position, IReadOnlyList<Node> Items) : Node(Position);
    private sealed record Variable(int Position, VariablePath Path) : Node(Position);
    private sealed record Unary(int Position, string Op, Node Operand) : Node(Position);
    private sealed record Binary(int Position, string Op, Node Left, Node Right) : Node(Position);

    private sealed class SyntaxException(int position, string message) : Exception(message)
    {
        public int Position { get; } = position;
    }

    private sealed class EvaluationException(string message) : Exception(message);

    private sealed class Budget
    {
        private int _steps;
        public void Spend()
        {
            if (++_steps > MaxSteps) throw new EvaluationException($"The expression took more than {MaxSteps} steps.");
        }
    }

    // ---- parser ------------------------------------------------------------------------------------------------

    private enum TokenKind { Number, String, Identifier, Symbol, End }

    private readonly record struct Token(TokenKind Kind, string Text, int Position, JsonNode? Value = null);

    private static readonly string[] Symbols = ["==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "(", ")", "[", "]", ".", ","];
    private static readonly HashSet<string> ComparisonWords = ["in", "contains", "startsWith", "endsWith", "matches"];
    private static readonly HashSet<string> Keywords = ["and", "or", "not", "true", "false", "null", .. ComparisonWords];

    private sealed class Parser
    {
        private readonly List<Token> _tokens;
        private int _index;
        private int _depth;

        public List<VariablePath> Variables { get; } = [];

        public Parser(string text) => _tokens = Tokenize(text);

        public Node ParseAll()
        {
            var node = ParseOr();
            if (Peek.Kind != TokenKind.End) throw new SyntaxException(Peek.Position, $"Unexpected '{Peek.Text}'.");
            return node;
        }

        private Token Peek => _tokens[_index];
        private Token Next() => _tokens[_index++];
        private bool IsWord(string word) => Peek.Kind == TokenKind.Identifier && Peek.Text == word;
        private bool IsSymbol(string symbol) => Peek.Kind == TokenKind.Symbol && Peek.Text == symbol;

        private void Expect(string symbol)
        {
            if (!IsSymbol(symbol)) throw new SyntaxException(Peek.Position, $"Expected '{symbol}'{Found()}.");
            _index++;
        }

        private string Found() => Peek.Kind == TokenKind.End ? " but the expression ended" : $" but found '{Peek.Text}'";

        private Node Nested(Func<Node> parse)
        {
            if (++_depth > MaxDepth) throw new SyntaxException(Peek.Position, $"Nested more than {MaxDepth} levels deep.");
            try { return parse(); } finally { _depth--; }
        }

        private Node ParseOr()
        {
            var left = ParseAnd();
            while (IsWord("or")) { var at = Next().Position; left = new Binary(at, "or", left, ParseAnd()); }
            return left;
        }

        private Node ParseAnd()
        {
            var left = ParseNot();
            while (IsWord("and")) { var at = Next().Position; left = new Binary(at, "and", left, ParseNot()); }
            return left;
        }

        private Node ParseNot()
        {
            if (!IsWord("not")) return ParseComparison();
            var at = Next().Position;
            return Nested(() => new Unary(at, "not", ParseNot()));
        }

        private Node ParseComparison()
        {
            var left = ParseAdditive();
            var op = Peek;
            var isComparison = (op.Kind == TokenKind.Symbol && op.Text is "==" or "!=" or "<" or "<=" or ">" or ">=")
                || (op.Kind == TokenKind.Identifier && ComparisonWords.Contains(op.Text));
            if (!isComparison) return left;
            _index++;
            return new Binary(op.Position, op.Text, left, ParseAdditive());
        }

        private Node ParseAdditive()
        {
            var left = ParseMultiplicative();
            while (IsSymbol("+") || IsSymbol("-")) { var op = Next(); left = new Binary(op.Position, op.Text, left, ParseMultiplicative()); }
            return left;
        }

        private Node ParseMultiplicative()
        {
            var left = ParseUnary();
            while (IsSymbol("*") || IsSymbol("/") || IsSymbol("%")) { var op = Next(); left = new Binary(op.Position, op.Text, left, ParseUnary()); }
            return left;
        }

        private Node ParseUnary()
        {
            if (!IsSymbol("-")) return ParsePrimary();
            var at = Next().Position;
            return Nested(() => new Unary(at, "-", ParseUnary()));
        }

        private Node ParsePrimary()
        {
            var token = Peek;
            switch (token.Kind)
            {
                case TokenKind.Number:
                case TokenKind.String:
                    _index++;
                    return new Literal(token.Position, token.Value);
                case TokenKind.Symbol when token.Text == "(":
                    _index++;
                    var inner = Nested(ParseOr);
                    Expect(")");
                    return inner;
                case TokenKind.Symbol when token.Text == "[":
                    _index++;
                    var items = new List<Node>();
                    if (!IsSymbol("]"))
                    {
                        do items.Add(Nested(ParseOr)); while (IsSymbol(",") && Next().Kind == TokenKind.Symbol);
                    }
                    Expect("]");
                    return new ListNode(token.Position, items);
                case TokenKind.Identifier when token.Text is "true" or "false":
                    _index++;
                    return new Literal(token.Position, JsonValue.Create(token.Text == "true"));
                case TokenKind.Identifier when token.Text == "null":
                    _index++;
                    return new Literal(token.Position, null);
                case TokenKind.Identifier when !Keywords.Contains(token.Text):
                    return ParseVariable();
                case TokenKind.End:
                    throw new SyntaxException(token.Position, "Expected a value but the expression ended.");
                default:
                    throw new SyntaxException(token.Position, $"Expected a value but found '{token.Text}'.");
            }
        }

        private Node ParseVariable()
        {
            var root = Next();
            if (!Roots.Contains(root.Text))
            {
                throw new SyntaxException(root.Position, $"Unknown variable '{root.Text}'; variables start with {string.Join(", ", Roots)}.");
            }
            var segments = new List<PathSegment>();
            while (true)
            {
                if (IsSymbol("."))
                {
                    _index++;
                    if (Peek.Kind != TokenKind.Identifier) throw new SyntaxException(Peek.Position, $"Expected a name after '.'{Found()}.");
                    segments.Add(new PathSegment(Next().Text, null));
                }
                else if (IsSymbol("["))
                {
                    _index++;
                    var key = Next();
                    if (key.Kind == TokenKind.String) segments.Add(new PathSegment(key.Value!.GetValue<string>(), null));
                    else if (key.Kind == TokenKind.Number && NumberOf((JsonValue)key.Value!) is var n && n >= 0 && n == Math.Floor(n) && n < int.MaxValue) segments.Add(new PathSegment(null, (int)n));
                    else throw new SyntaxException(key.Position, "An index is a whole number or a 'quoted name'.");
                    Expect("]");
                }
                else break;
            }
            var path = new VariablePath(root.Text, segments, root.Position);
            if (path.Problem() is { } problem) throw new SyntaxException(root.Position, problem);
            Variables.Add(path);
            return new Variable(root.Position, path);
        }

        private static List<Token> Tokenize(string text)
        {
            var tokens = new List<Token>();
            var i = 0;
            while (i < text.Length)
            {
                var c = text[i];
                if (char.IsWhiteSpace(c)) { i++; continue; }
                var start = i;
                if (char.IsAsciiDigit(c))
                {
                    while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.' && i + 1 < text.Length && char.IsAsciiDigit(text[i + 1]))) i++;
                    var digits = text[start..i];
                    if (!double.TryParse(digits, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number) || double.IsInfinity(number))
                    {
                        throw new SyntaxException(start, $"'{digits}' is not a number.");
                    }
                    tokens.Add(new Token(TokenKind.Number, digits, start, JsonValue.Create(number)));
                }
                else if (c is '\'' or '"')
                {
                    var value = new StringBuilder();
                    i++;
                    while (true)
                    {
                        if (i >= text.Length) throw new SyntaxException(start, "A string is not closed.");
                        if (text[i] == c) { i++; break; }
                        if (text[i] == '\\' && i + 1 < text.Length) i++;
                        value.Append(text[i++]);
                    }
                    tokens.Add(new Token(TokenKind.String, text[start..i], start, JsonValue.Create(value.ToString())));
                }
                else if (char.IsAsciiLetter(c) || c == '_')
                {
                    while (i < text.Length && (char.IsAsciiLetterOrDigit(text[i]) || text[i] == '_')) i++;
                    tokens.Add(new Token(TokenKind.Identifier, text[start..i], start));
                }
                else if (Symbols.FirstOrDefault(s => string.CompareOrdinal(text, i, s, 0, s.Length) == 0) is { } symbol)
                {
                    i += symbol.Length;
                    tokens.Add(new Token(TokenKind.Symbol, symbol, start));
                }
                else if (c == '=' || c == '!' || c == '&' || c == '|')
                {
                    throw new SyntaxException(start, c switch
                    {
                        '=' => "Use '==' to compare.",
                        '!' => "Use 'not' or '!='.",
                        '&' => "Use 'and'.",
                        _ => "Use 'or'.",
                    });
                }
                else throw new SyntaxException(start, $"Unexpected character '{(char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString())}'.");
            }
            tokens.Add(new Token(TokenKind.End, "", text.Length));
            return tokens;
        }
    }

    // ---- evaluation ----------------------------------------------------------------------------------------------

    private static JsonNode? Eval(Node node, JsonObject scope, Budget budget)
    {
        budget.Spend();
        switch (node)
        {
            case Literal literal:
                return literal.Value?.DeepClone();
            case ListNode list:
                return new JsonArray(list.Items.Select(item => Eval(item, scope, budget)).ToArray());
            case Variable variable:
                return variable.Path.Resolve(scope)?.DeepClone();
            case Unary { Op: "not" } not:
                return JsonValue.Create(!Truthy(Eval(not.Operand, scope, budget), "not"));
            case Unary negate:
                return JsonValue.Create(-Number(Eval(negate.Operand, scope, budget), "-"));
            case Binary { Op: "and" } and:
                return JsonValue.Create(Truthy(Eval(and.Left, scope, budget), "and") && Truthy(Eval(and.Right, scope, budget), "and"));
            case Binary { Op: "or" } or:
                return JsonValue.Create(Truthy(Eval(or.Left, scope, budget), "or") || Truthy(Eval(or.Right, scope, budget), "or"));
            case Binary binary:
                return Apply(binary.Op, Eval(binary.Left, scope, budget), Eval(binary.Right, scope, budget));
            default:
                throw new EvaluationException("Unknown expression.");
        }
    }

    private static JsonNode? Apply(string op, JsonNode? left, JsonNode? right)
    {
        switch (op)
        {
            case "==": return JsonValue.Create(JsonNode.DeepEquals(Normalize(left), Normalize(right)));
            case "!=": return JsonValue.Create(!JsonNode.DeepEquals(Normalize(left), Normalize(right)));
            case "<" or "<=" or ">" or ">=":
                var order = Compare(left, right, op);
                return JsonValue.Create(op switch { "<" => order < 0, "<=" => order <= 0, ">" => order > 0, _ => order >= 0 });
            case "+" when IsString(left) || IsString(right):
                var joined = Text(left) + Text(right);
                if (joined.Length > MaxStringLength) throw new EvaluationException($"A string grew beyond {MaxStringLength} characters.");
                return JsonValue.Create(joined);
            case "+": return Arithmetic(Number(left, op) + Number(right, op));
            case "-": return Arithmetic(Number(left, op) - Number(right, op));
            case "*": return Arithmetic(Number(left, op) * Number(right, op));
            case "/": return Arithmetic(Divisor(right, op) is var d ? Number(left, op) / d : 0);
            case "%": return Arithmetic(Divisor(right, op) is var m ? Number(left, op) % m : 0);
            case "in": return JsonValue.Create(Contains(right, left, op));
            case "contains": return JsonValue.Create(Contains(left, right, op));
            case "startsWith": return JsonValue.Create(StringOf(left, op).StartsWith(StringOf(right, op), StringComparison.Ordinal));
            case "endsWith": return JsonValue.Create(StringOf(left, op).EndsWith(StringOf(right, op), StringComparison.Ordinal));
            case "matches":
                var glob = StringOf(right, op);
                if (PathGlob.Problem(glob) is { } problem) throw new EvaluationException($"'matches' needs a glob: {problem}");
                return JsonValue.Create(PathGlob.IsMatch(glob, StringOf(left, op)));
            default: throw new EvaluationException($"Unknown operator '{op}'.");
        }
    }

    private static JsonNode? Normalize(JsonNode? node) =>
        // 200 from a parsed body and 200 written in the expression are the same number.
        node is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? JsonValue.Create(NumberOf(v)) : node;

    /// <summary>A JSON number as a double, whatever .NET type holds it (an int from a step's output, an element from parsed JSON).</summary>
    public static double NumberOf(JsonValue value) => double.Parse(value.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture);

    private static JsonNode Arithmetic(double value) =>
        double.IsFinite(value) ? JsonValue.Create(value) : throw new EvaluationException("The arithmetic overflowed or divided by zero.");

    private static double Divisor(JsonNode? node, string op) =>
        Number(node, op) is var d && d != 0 ? d : throw new EvaluationException("Division by zero.");

    private static bool Contains(JsonNode? container, JsonNode? item, string op) => container switch
    {
        JsonArray array => array.Any(element => JsonNode.DeepEquals(Normalize(element), Normalize(item))),
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>().Contains(StringOf(item, op), StringComparison.Ordinal),
        JsonObject o => o.ContainsKey(StringOf(item, op)),
        null => false,
        _ => throw new EvaluationException($"'{op}' needs a list, a string or an object, not {KindName(container)}."),
    };

    private static int Compare(JsonNode? left, JsonNode? right, string op)
    {
        if (IsNumber(left) && IsNumber(right)) return Number(left, op).CompareTo(Number(right, op));
        if (IsString(left) && IsString(right)) return string.CompareOrdinal(left!.GetValue<string>(), right!.GetValue<string>());
        throw new EvaluationException($"'{op}' compares two numbers or two strings, not {KindName(left)} and {KindName(right)}.");
    }

    private static bool Truthy(JsonNode? node, string op) => node switch
    {
        null => false,
        JsonValue v when v.GetValueKind() == JsonValueKind.True => true,
        JsonValue v when v.GetValueKind() == JsonValueKind.False => false,
        _ => throw new EvaluationException($"'{op}' needs true or false, not {KindName(node)}."),
    };

    private static bool IsNumber(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.Number;
    private static bool IsString(JsonNode? node) => node is JsonValue v && v.GetValueKind() == JsonValueKind.String;

    private static double Number(JsonNode? node, string op) =>
        IsNumber(node) ? NumberOf((JsonValue)node!) : throw new EvaluationException($"'{op}' needs numbers, not {KindName(node)}.");

    private static string StringOf(JsonNode? node, string op) =>
        IsString(node) ? node!.GetValue<string>() : throw new EvaluationException($"'{op}' needs strings, not {KindName(node)}.");

    private static string Text(JsonNode? node) => node switch
    {
        null => "",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => node.ToJsonString(),
    };

    public static string KindName(JsonNode? node) => node switch
    {
        null => "null",
        JsonArray => "a list",
        JsonObject => "an object",
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            JsonValueKind.True or JsonValueKind.False => "true or false",
            _ => "null",
        },
        _ => "a value",
    };
}

/// <summary>One step of a variable path: a property name or a list index.</summary>
public readonly record struct PathSegment(string? Name, int? Index)
{
    public override string ToString() => Name is not null ? "." + Name : $"[{Index}]";
}

/// <summary>A variable such as <c>steps.post.output.status</c>: a root and the path below it.</summary>
public sealed record VariablePath(string Root, IReadOnlyList<PathSegment> Segments, int Position)
{
    public override string ToString() => Root + string.Concat(Segments);

    /// <summary>For <c>steps.&lt;name&gt;...</c>, the step named.</summary>
    public string? StepName => Root == "steps" && Segments.Count > 0 ? Segments[0].Name : null;

    /// <summary>Shape rules the parser can check alone: steps.&lt;name&gt; is followed by output or status.</summary>
    public string? Problem()
    {
        if (!WorkflowExpression.Roots.Contains(Root)) return $"Unknown variable '{Root}'; variables start with {string.Join(", ", WorkflowExpression.Roots)}.";
        if (Root != "steps") return null;
        if (Segments.Count < 2 || Segments[0].Name is null || Segments[1].Name is not ("output" or "status" or "error"))
        {
            return "A step's variables are steps.<name>.output..., steps.<name>.status or steps.<name>.error.";
        }
        return null;
    }

    /// <summary>The value in <paramref name="scope"/>, or null when any part of the path is missing.</summary>
    public JsonNode? Resolve(JsonObject scope)
    {
        var node = scope[Root];
        foreach (var segment in Segments)
        {
            node = (node, segment) switch
            {
                (JsonObject o, { Name: { } name }) => o[name],
                (JsonArray a, { Index: { } i }) when i < a.Count => a[i],
                _ => null,
            };
            if (node is null) return null;
        }
        return node;
    }
}
