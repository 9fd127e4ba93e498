// A second, independent XML Schema validator for the tests: the JDK's own (Xerces-J inside the JRE), not
// libxml2, which lxml and eark-validator both use. Run as a single source file (Java 11+):
//
//     java tests/java/XsdCheck.java [--schema FILE.xsd] DOCUMENT.xml...
//
// With --schema every document is validated against that schema; without it, against the schemas each
// document names in xsi:schemaLocation (resolved from the document's folder). A document whose schema
// cannot be found is invalid, not skipped. Prints "valid PATH" or "invalid PATH:LINE:COLUMN: MESSAGE" per
// problem; exit 0 when every document is valid, 1 otherwise, 2 on bad arguments.
import java.io.File;
import java.util.ArrayList;
import java.util.List;
import javax.xml.XMLConstants;
import javax.xml.transform.stream.StreamSource;
import javax.xml.validation.Schema;
import javax.xml.validation.SchemaFactory;
import javax.xml.validation.Validator;
import org.xml.sax.ErrorHandler;
import org.xml.sax.SAXParseException;

public class XsdCheck {
    public static void main(String[] args) throws Exception {
        List<String> documents = new ArrayList<>();
        String schemaPath = null;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--schema") && i + 1 < args.length) {
                schemaPath = args[++i];
            } else {
                documents.add(args[i]);
            }
        }
        if (documents.isEmpty()) {
            System.err.println("usage: XsdCheck [--schema FILE.xsd] DOCUMENT.xml...");
            System.exit(2);
        }
        SchemaFactory factory = SchemaFactory.newInstance(XMLConstants.W3C_XML_SCHEMA_NS_URI);
        factory.setFeature("http://apache.org/xml/features/validation/schema-full-checking", true);
        Schema fixed = schemaPath == null ? null : factory.newSchema(new File(schemaPath));
        boolean allValid = true;
        for (String path : documents) {
            Schema schema = fixed != null ? fixed : factory.newSchema();
            Validator validator = schema.newValidator();
            List<String> problems = new ArrayList<>();
            validator.setErrorHandler(new ErrorHandler() {
                public void warning(SAXParseException e) { }
                public void error(SAXParseException e) { problems.add(where(path, e)); }
                public void fatalError(SAXParseException e) { problems.add(where(path, e)); }
            });
            try {
                validator.validate(new StreamSource(new File(path)));
            } catch (SAXParseException e) {
                problems.add(where(path, e));
            }
            if (problems.isEmpty()) {
                System.out.println("valid " + path);
            } else {
                allValid = false;
                for (String problem : problems) {
                    System.out.println("invalid " + problem);
                }
            }
        }
        System.exit(allValid ? 0 : 1);
    }

    private static String where(String path, SAXParseException e) {
        return path + ":" + e.getLineNumber() + ":" + e.getColumnNumber() + ": " + e.getMessage();
    }
}
